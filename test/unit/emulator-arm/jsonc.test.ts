/**
 * ARM's lenient body reader: the Azure CLI sends `az deployment group create|validate` bodies with the
 * template spliced in as `template:{…}` (azure-cli, command_modules/resource/custom.py, JsonCTemplatePolicy),
 * which ARM accepts; strict JSON stays what it was.
 */
import { describe, expect, it } from 'vitest';
import { parseLenientJson } from '../../../emulator/core/jsonc.js';

describe('parseLenientJson', () => {
  it('reads the body azure-cli sends for a deployment', () => {
    const body =
      '{"properties": {"parameters": {}, "mode": "Incremental", template:{\r\n  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",\r\n  "contentVersion": "1.0.0.0", "resources": []}\n}}';
    expect(parseLenientJson(body)).toEqual({
      properties: {
        parameters: {},
        mode: 'Incremental',
        template: {
          $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
          contentVersion: '1.0.0.0',
          resources: [],
        },
      },
    });
  });

  it('drops comments and leaves strings and bare values alone', () => {
    expect(parseLenientJson('{ // a comment\n a: "x: y, b: z", /* c */ b: true, c: null, "d": [1, 2] }')).toEqual({
      a: 'x: y, b: z',
      b: true,
      c: null,
      d: [1, 2],
    });
    expect(parseLenientJson('{"a": "say \\"hi\\", b: 1"}')).toEqual({ a: 'say "hi", b: 1' });
  });

  it('still refuses what is not JSON at all', () => {
    expect(() => parseLenientJson('{ a: }')).toThrow();
  });
});
