/**
 * ARM reads request bodies with a lenient JSON reader (Newtonsoft's): unquoted property names and
 * comments are accepted. The Azure CLI relies on it: `az deployment group create|validate` splices the
 * template into the body as `…, template:{…}}` (azure-cli, command_modules/resource/custom.py,
 * `JsonCTemplatePolicy`: "This is not an ordinary JSON format, but it is a JSONC format that service can
 * deserialize"). This turns such a body into JSON: quotes bare property names, drops comments, and
 * leaves strings untouched.
 */
export function parseLenientJson(text: string): unknown {
  let out = '';
  let i = 0;
  // The last significant character outside strings, to tell a property name from a bare value.
  let last = '';
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      last = '"';
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (/[A-Za-z_$]/.test(c) && (last === '{' || last === ',')) {
      const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(i))!;
      const after = text.slice(i + m[0].length).match(/^\s*(.)/)?.[1];
      out += after === ':' ? JSON.stringify(m[0]) : m[0];
      i += m[0].length;
      last = 'x';
    } else {
      out += c;
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return JSON.parse(out);
}
