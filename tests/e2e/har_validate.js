// SPDX-License-Identifier: MIT
// Validate a HAR file with the npm package har-validator (HAR 1.2 JSON Schema).
// usage: node har_validate.js HAR_VALIDATOR_DIR FILE
// Prints "valid" and exits 0, or one line per schema error and exits 1;
// exits 2 if the file cannot be read or is not JSON.
'use strict';

const fs = require('fs');

if (process.argv.length !== 4) {
  console.error('usage: node har_validate.js HAR_VALIDATOR_DIR FILE');
  process.exit(2);
}
const validator = require(process.argv[2]);
let har;
try {
  har = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
} catch (e) {
  console.log('not a JSON document: ' + e.message);
  process.exit(2);
}
validator.har(har).then(
  () => {
    console.log('valid');
    process.exit(0);
  },
  (e) => {
    for (const err of e.errors || [e])
      console.log((err.dataPath || '') + ' ' + (err.message || String(err)) +
                  (err.params ? ' ' + JSON.stringify(err.params) : ''));
    process.exit(1);
  });
