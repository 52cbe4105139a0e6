// Prettier formats the Odoo module's XML (views, data, security), as OCA's
// oca-addons-repo-template configures it for 18.0, with the repository's line
// width (120, as biome.json and .ruff.toml). TypeScript and JSON are biome's.
/** @type {import('prettier').Config} */
const config = {
  plugins: [require.resolve("@prettier/plugin-xml")],
  bracketSpacing: false,
  printWidth: 120,
  proseWrap: "always",
  semi: true,
  trailingComma: "es5",
  xmlWhitespaceSensitivity: "preserve",
  // OCA's .editorconfig gives XML 4 spaces.
  overrides: [{ files: "*.xml", options: { tabWidth: 4 } }],
};

module.exports = config;
