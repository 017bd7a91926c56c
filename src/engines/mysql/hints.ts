// What to add to MySQL's own error text (the driver's "(1170, ...)" or "1170 (42000): ..."):
// what the user can do about it.

/** MySQL's error number in a driver's message: PyMySQL/mysqlclient `(1064, "...")`, mysql-connector `1064 (42000): ...`. */
function errorNumber(message: string): number | null {
  const m = /\((\d{4}),\s*["']|\b(\d{4}) \(\w{5}\):/.exec(message);
  return m ? Number(m[1] ?? m[2]) : null;
}

/** The hint for an error a step on MySQL or MariaDB failed with, or null. */
export function mysqlHint(message: string, where: { label: string }): string | null {
  if (/No module named '?(pymysql|MySQLdb|mysql\.connector|mariadb|aiomysql|asyncmy)'?/.test(message)) {
    return `The Python used for the ${where.label} tree has no MySQL driver: install PyMySQL (or mysqlclient) in the project's environment.`;
  }
  if (/cryptography.*(sha256_password|caching_sha2_password)|(sha256_password|caching_sha2_password).*cryptography/i.test(message)) {
    return "PyMySQL needs the cryptography package to log in with MySQL 8's caching_sha2_password over a connection without TLS: install cryptography in the project's environment.";
  }
  switch (errorNumber(message)) {
    case 1064:
      return (
        'MySQL could not parse the statement: SQL written for another engine (PostgreSQL casts `::`, `ALTER COLUMN ... TYPE`, `USING`, ' +
        '`CREATE INDEX CONCURRENTLY`, double-quoted identifiers, `IF NOT EXISTS` where MySQL has none)? Use op.* operations, or run engine-specific SQL ' +
        'only where `op.get_bind().dialect.name` says so.'
      );
    case 1170:
      return (
        'MySQL indexes a TEXT or BLOB column only by a prefix: give the index a length, e.g. `op.create_index("ix_t_c", "t", ["c"], mysql_length={"c": 255})` ' +
        '(or `sa.Index(..., mysql_length=255)`), or make the column a sa.String(n) (VARCHAR).'
      );
    case 1071:
      return (
        'The index key is longer than MySQL allows (3072 bytes on InnoDB; utf8mb4 counts 4 bytes a character, so a VARCHAR(1000) is 4000): index a prefix ' +
        '(`mysql_length={"c": 191}`), or shorten the column.'
      );
    case 1101:
      return 'A TEXT, BLOB, JSON or GEOMETRY column takes only an expression default on MySQL 8.0.13+ (`server_default=sa.text("(\'x\')")`), and none before: drop the default or set it in the application.';
    case 1005:
    case 1215:
    case 1822:
    case 1824:
      return (
        'MySQL refused the foreign key: the referencing and referenced columns must have exactly the same type (signedness and length too) and charset, ' +
        'the referenced columns must be indexed (a primary key or unique key), and the referenced table must exist and use InnoDB.'
      );
    case 1067:
      return 'MySQL does not accept that default for the column type (sql_mode NO_ZERO_DATE and STRICT_TRANS_TABLES refuse 0000-00-00, for instance).';
    case 1118:
      return 'The row is larger than InnoDB allows for its row format: make some VARCHAR columns TEXT, or use ROW_FORMAT=DYNAMIC.';
    case 1142:
    case 1044:
    case 1227:
    case 1370:
      return (
        'alembic-gate runs migrations as a MySQL user with every privilege on its own databases only (as production migration users usually are), and this statement needs more. ' +
        "If production's migration user has that right, pass --migration-role superuser (action input migration-role)."
      );
    case 1419:
      return 'Creating a trigger or a function with binary logging on needs SUPER, or log_bin_trust_function_creators=1 on the server (or declare the function DETERMINISTIC, NO SQL or READS SQL DATA).';
    default:
      return null;
  }
}
