import { defineConfig } from '@hey-api/openapi-ts';

// The SDK is generated from the committed contract, so the client tests what clients will get.
export default defineConfig({
  input: '../../openapi/openapi.json',
  // Node's ESM loader (package.json "type": "module") needs explicit `.js` import specifiers.
  output: { path: 'src/client', module: { extension: '.js' } },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
});
