// Checks a launch configuration against the launch schema this extension contributes in
// package.json, so the schema VS Code offers in launch.json and the checks before a
// session starts can never disagree.

export interface JsonSchema {
  type?: string | string[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  description?: string;
}

// Fields any debug configuration may carry whatever its type: VS Code's own, which the
// adapter accepts and ignores (unless the launch schema has them too).
export const GENERIC_FIELDS = new Set([
  'type', 'request', 'name', 'noDebug', 'cwd', 'preLaunchTask', 'postDebugTask',
  'internalConsoleOptions', 'debugServer', 'presentation', 'suppressMultipleSessionWarning',
  'serverReadyAction', 'trace',
]);

export class ConfigurationError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

function kind(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  switch (typeof value) {
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'a boolean';
    case 'object': return 'an object';
    default: return typeof value;
  }
}

function describe(schema: JsonSchema): string {
  if (schema.anyOf) {
    return [...new Set(schema.anyOf.map(describe))].join(' or ');
  }
  switch (schema.type) {
    case 'string': return 'a string';
    case 'boolean': return 'true or false';
    case 'array': return schema.items ? `an array of ${plural(schema.items)}` : 'an array';
    case 'object':
      if (typeof schema.additionalProperties === 'object') {
        return `an object of ${plural(schema.additionalProperties)}`;
      }
      return 'an object';
    default: return String(schema.type);
  }
}

function plural(schema: JsonSchema): string {
  return schema.type === 'string' ? 'strings' : describe(schema);
}

/** Closest allowed name, for "did you mean". */
function nearest(name: string, allowed: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1,
          previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length];
  };
  const scored = allowed.map((candidate) => ({ candidate, d: distance(name, candidate) }))
    .sort((x, y) => x.d - y.d);
  return scored.length && scored[0].d <= Math.max(2, Math.floor(name.length / 3))
    ? scored[0].candidate : undefined;
}

function matches(value: unknown, schema: JsonSchema): boolean {
  try {
    check(value, schema, '');
    return true;
  } catch {
    return false;
  }
}

function check(value: unknown, schema: JsonSchema, field: string): void {
  if (schema.anyOf) {
    if (!schema.anyOf.some((option) => matches(value, option))) {
      throw new ConfigurationError(field, `"${field}" must be ${describe(schema)}, not ${kind(value)}`);
    }
    return;
  }
  const wrong = (): ConfigurationError =>
    new ConfigurationError(field, `"${field}" must be ${describe(schema)}, not ${kind(value)}`);
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') {
        throw wrong();
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') {
        throw wrong();
      }
      return;
    case 'array':
      if (!Array.isArray(value)) {
        throw wrong();
      }
      value.forEach((item, i) => schema.items && check(item, schema.items, `${field}[${i}]`));
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw wrong();
      }
      const known = schema.properties ?? {};
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const inner = `${field}.${key}`;
        if (key in known) {
          check(item, known[key], inner);
        } else if (schema.additionalProperties === false) {
          const hint = nearest(key, Object.keys(known));
          throw new ConfigurationError(inner, `"${inner}" is not a field of "${field}"`
            + (hint ? ` (did you mean "${hint}"?)` : ` (allowed: ${Object.keys(known).join(', ')})`));
        } else if (typeof schema.additionalProperties === 'object') {
          check(item, schema.additionalProperties, inner);
        }
      }
      return;
    }
    default:
      return;
  }
}

/** Throws a ConfigurationError naming the first field that is unknown or of the wrong type. */
export function validateLaunch(config: Record<string, unknown>, properties: Record<string, JsonSchema>): void {
  for (const [key, value] of Object.entries(config)) {
    const schema = properties[key];
    if (schema === undefined && (GENERIC_FIELDS.has(key) || key.startsWith('__'))) {
      continue;
    }
    if (schema === undefined) {
      const hint = nearest(key, Object.keys(properties));
      throw new ConfigurationError(key, `"${key}" is not a buildg-dap launch field`
        + (hint ? ` (did you mean "${hint}"?)` : ` (allowed: ${Object.keys(properties).join(', ')})`));
    }
    check(value, schema, key);
  }
}
