/**
 * The API reference page: Swagger UI from the pinned swagger-ui-dist package,
 * never from a CDN, so it renders offline. Its files are read from the package
 * on the first /docs request only (1.9 MB; no cost at cold start).
 */

export interface DocsAssets {
  js: string;
  css: string;
}

let assets: Promise<DocsAssets> | undefined;

/** Swagger UI's bundle and stylesheet, read once from the npm package. */
export function docsAssets(): Promise<DocsAssets> {
  assets ??= (async () => {
    const { default: packageDir } = await import("swagger-ui-dist/absolute-path.js");
    const dir: string = packageDir();
    const [js, css] = await Promise.all([
      Deno.readTextFile(`${dir}/swagger-ui-bundle.js`),
      Deno.readTextFile(`${dir}/swagger-ui.css`),
    ]);
    return { js, css };
  })();
  assets.catch(() => assets = undefined);
  return assets;
}

/** Text that may sit inside a <script> or <style> element without closing it. */
const inElement = (text: string) => text.replace(/<\/(script|style)/gi, "<\\/$1");

const TITLE = "Consultorio API";

/**
 * The page. `assets` given as URLs link them; given as text, inlines them.
 * `spec` is the document's URL, or the document itself (embedded).
 */
export function docsHtml(
  assets: { jsUrl: string; cssUrl: string } | DocsAssets,
  spec: string | object,
): string {
  const head = "css" in assets
    ? `<style>${inElement(assets.css)}</style>`
    : `<link rel="stylesheet" href="${assets.cssUrl}">`;
  const bundle = "js" in assets
    ? `<script>${inElement(assets.js)}</script>`
    : `<script src="${assets.jsUrl}"></script>`;
  const source = typeof spec === "string"
    ? `url: ${JSON.stringify(spec)}`
    : `spec: JSON.parse(document.getElementById("openapi").textContent)`;
  const embedded = typeof spec === "string"
    ? ""
    : `<script type="application/json" id="openapi">${inElement(JSON.stringify(spec))}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${TITLE}</title>
${head}
</head>
<body>
<div id="swagger-ui"></div>
${embedded}
${bundle}
<script>
window.ui = SwaggerUIBundle({ ${source}, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });
</script>
</body>
</html>
`;
}
