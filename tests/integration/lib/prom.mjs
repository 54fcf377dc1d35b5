// SPDX-License-Identifier: GPL-3.0-or-later
//
// A strict reader of Prometheus's text exposition format (0.0.4), for
// tests of GET /metrics: every line must be a HELP, a TYPE, another comment,
// or a sample; a family's HELP and TYPE come once each and before its
// samples, a family's samples are together, no series repeats, counters
// end in _total, and the text ends with a newline.  Throws on the first
// fault, naming the line.
//
// Returns {families: Map(name -> {type, help, samples: [{labels, value}]}),
// get(name, labels) -> value|undefined (labels must match exactly),
// all(name) -> samples}.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(v, where) {
  if (v === 'NaN') return NaN;
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`${where}: bad value ${JSON.stringify(v)}`);
  return Number(v);
}

// `{a="x",b="y"}` from position i of line: [labels, end index].
function parseLabels(line, i, where) {
  const labels = {};
  i++; // {
  for (;;) {
    if (line[i] === '}') return [labels, i + 1];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (!m || !LABEL.test(m[0])) throw new Error(`${where}: bad label name at ${i}`);
    const name = m[0];
    if (name.startsWith('__')) throw new Error(`${where}: reserved label name ${name}`);
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label ${name} twice`);
    i += name.length;
    if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`${where}: expected ="..." after ${name}`);
    i += 2;
    let v = '';
    for (;;) {
      if (i >= line.length) throw new Error(`${where}: unterminated label value`);
      const c = line[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = line[i++];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`${where}: bad escape \\${e} in a label value`);
      } else {
        v += c;
      }
    }
    labels[name] = v;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

const key = (labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

export function parsePrometheus(text) {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map();
  const done = new Set();       // families whose samples ended
  let current = null;           // the family whose samples are coming
  const fam = (name) => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: null, help: null, samples: [], series: new Set() };
      families.set(name, f);
    }
    return f;
  };
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, n) => {
    const where = `line ${n + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line === '') throw new Error(`${where}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // another comment
      const [, kind, name, rest = ''] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const f = fam(name);
      if (f.samples.length) throw new Error(`${where}: ${kind} after ${name}'s samples`);
      if (kind === 'HELP') {
        if (f.help !== null) throw new Error(`${where}: second HELP for ${name}`);
        if (/\\[^n\\]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (f.type !== null) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        f.type = rest;
      }
      return;
    }
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const name = m[0];
    let i = name.length;
    let labels = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i, where);
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || (parts.length === 2 && !/^-?\d+$/.test(parts[1]))) throw new Error(`${where}: bad value or timestamp`);
    const value = parseValue(parts[0], where);
    const f = families.get(name);
    if (!f || f.type === null) throw new Error(`${where}: sample of ${name} before its TYPE`);
    if (f.help === null) throw new Error(`${where}: sample of ${name} before its HELP`);
    if (done.has(name)) throw new Error(`${where}: ${name}'s samples are not together`);
    if (current && current !== name) done.add(current);
    current = name;
    if (f.type === 'counter' && !name.endsWith('_total')) throw new Error(`${where}: counter ${name} does not end in _total`);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: negative counter`);
    const k = key(labels);
    if (f.series.has(k)) throw new Error(`${where}: series repeated`);
    f.series.add(k);
    f.samples.push({ labels, value });
  });
  for (const f of families.values()) {
    if (f.type === null || f.help === null) throw new Error(`${f.name}: HELP or TYPE missing`);
  }
  return {
    families,
    all: (name) => families.get(name)?.samples ?? [],
    get(name, labels = {}) {
      const k = key(labels);
      return families.get(name)?.samples.find((s) => key(s.labels) === k)?.value;
    },
  };
}
