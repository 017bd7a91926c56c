// Generates an Alembic project with N revisions whose downgrades are all correct and whose
// models match the final schema: create table (some with enum types), add index, add a
// foreign key column, add a column, alter a column's type. Deterministic for a given N.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const revId = (i) => `r${String(i).padStart(11, '0')}`;

export function generateProject(dir, n, exampleBase) {
  mkdirSync(join(dir, 'migrations', 'versions'), { recursive: true });
  mkdirSync(join(dir, 'app'), { recursive: true });
  // alembic.ini, env.py and script template as a real project has them (the example's).
  cpSync(join(exampleBase, 'alembic.ini'), join(dir, 'alembic.ini'));
  cpSync(join(exampleBase, 'migrations', 'script.py.mako'), join(dir, 'migrations', 'script.py.mako'));
  writeFileSync(join(dir, 'migrations', 'env.py'), readEnv(exampleBase).replace('from shop.models import Base', 'from app.models import Base'));
  writeFileSync(join(dir, 'app', '__init__.py'), '');

  /** tables: name -> { columns: [{name, type, nullable, fk?, enumName?, enumLabels?}], indexes: [{name, col}] } */
  const tables = new Map();
  const enums = [];
  const widenable = []; // [table, column] pairs of varchar(50) columns not yet widened
  let tableCount = 0;
  for (let i = 0; i < n; i++) {
    const rev = revId(i);
    const down = i === 0 ? null : revId(i - 1);
    const names = [...tables.keys()];
    let kind = i < 2 ? 'table' : ['table', 'index', 'fk', 'column', 'alter', 'enumtable'][i % 6];
    if (kind === 'alter' && widenable.length === 0) kind = 'column';
    let up = '';
    let downCode = '';
    let message = '';
    if (kind === 'table' || kind === 'enumtable') {
      const t = `t${tableCount++}`;
      const cols = [
        { name: 'id', type: 'sa.Integer()', nullable: false, pk: true },
        { name: 'name', type: 'sa.String(length=50)', nullable: true },
      ];
      let enumDrop = '';
      if (kind === 'enumtable') {
        const e = `status_${t}`;
        const labels = ['new', 'active', 'done'];
        enums.push(e);
        cols.push({ name: 'status', type: `sa.Enum(${labels.map((l) => `'${l}'`).join(', ')}, name='${e}')`, nullable: false, enumName: e, labels });
        enumDrop = `\n    sa.Enum(name='${e}').drop(op.get_bind(), checkfirst=False)`;
      }
      tables.set(t, { columns: cols, indexes: [] });
      widenable.push([t, 'name']);
      up = `    op.create_table(\n        '${t}',\n${cols.map((c) => `        sa.Column('${c.name}', ${c.type}, nullable=${c.nullable ? 'True' : 'False'}),`).join('\n')}\n        sa.PrimaryKeyConstraint('id'),\n    )`;
      downCode = `    op.drop_table('${t}')${enumDrop}`;
      message = `create table ${t}`;
    } else if (kind === 'index') {
      const t = names[i % names.length];
      const spec = tables.get(t);
      const col = spec.columns.find((c) => c.name === 'name') ? 'name' : 'id';
      const ix = `ix_${t}_${col}_${i}`;
      spec.indexes.push({ name: ix, col });
      up = `    op.create_index('${ix}', '${t}', ['${col}'])`;
      downCode = `    op.drop_index('${ix}', table_name='${t}')`;
      message = `index ${t}.${col}`;
    } else if (kind === 'fk') {
      const t = names[names.length - 1];
      const target = names[i % (names.length - 1 || 1)];
      const col = `ref_${i}_id`;
      const fk = `fk_${t}_${col}`;
      tables.get(t).columns.push({ name: col, type: 'sa.Integer()', nullable: true, fk: { target, name: fk } });
      up = `    op.add_column('${t}', sa.Column('${col}', sa.Integer(), nullable=True))\n    op.create_foreign_key('${fk}', '${t}', '${target}', ['${col}'], ['id'], ondelete='CASCADE')`;
      downCode = `    op.drop_constraint('${fk}', '${t}', type_='foreignkey')\n    op.drop_column('${t}', '${col}')`;
      message = `link ${t} to ${target}`;
    } else if (kind === 'column') {
      const t = names[(i * 7) % names.length];
      const col = `c${i}`;
      tables.get(t).columns.push({ name: col, type: 'sa.String(length=50)', nullable: true });
      widenable.push([t, col]);
      up = `    op.add_column('${t}', sa.Column('${col}', sa.String(length=50), nullable=True))`;
      downCode = `    op.drop_column('${t}', '${col}')`;
      message = `add ${t}.${col}`;
    } else {
      const [t, col] = widenable.shift();
      const c = tables.get(t).columns.find((x) => x.name === col);
      c.type = 'sa.String(length=80)';
      up = `    op.alter_column('${t}', '${col}', existing_type=sa.String(length=50), type_=sa.String(length=80), existing_nullable=True)`;
      downCode = `    op.alter_column('${t}', '${col}', existing_type=sa.String(length=80), type_=sa.String(length=50), existing_nullable=True)`;
      message = `widen ${t}.${col}`;
    }
    writeFileSync(
      join(dir, 'migrations', 'versions', `${rev}_${message.replace(/[^a-z0-9]+/gi, '_')}.py`),
      `"""${message}\n\nRevision ID: ${rev}\nRevises: ${down ?? ''}\n"""\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = '${rev}'\ndown_revision = ${down ? `'${down}'` : 'None'}\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n${up}\n\n\ndef downgrade():\n${downCode}\n`,
    );
  }

  // Models that match the final schema, so the drift check has real work and finds nothing.
  const lines = ['import sqlalchemy as sa', 'from sqlalchemy.orm import declarative_base', '', 'Base = declarative_base()', 'metadata = Base.metadata', ''];
  for (const [t, spec] of tables) {
    lines.push(`sa.Table(`, `    '${t}', metadata,`);
    for (const c of spec.columns) {
      const fk = c.fk ? `, sa.ForeignKey('${c.fk.target}.id', ondelete='CASCADE', name='${c.fk.name}')` : '';
      lines.push(`    sa.Column('${c.name}', ${c.type}${fk}${c.pk ? ', primary_key=True' : ''}, nullable=${c.nullable ? 'True' : 'False'}),`);
    }
    for (const ix of spec.indexes) lines.push(`    sa.Index('${ix.name}', '${ix.col}'),`);
    lines.push(')', '');
  }
  writeFileSync(join(dir, 'app', 'models.py'), lines.join('\n'));
  return { revisions: Array.from({ length: n }, (_, i) => revId(i)), tables: tables.size, enums: enums.length };
}

function readEnv(exampleBase) {
  return readFileSync(join(exampleBase, 'migrations', 'env.py'), 'utf8');
}
