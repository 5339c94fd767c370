// Starts the console from a file rather than trunk's inline script, so that a Content Security
// Policy of `script-src 'self' 'wasm-unsafe-eval'` (CloudFront's, and tollgate up's) holds. The
// script element trunk writes (Trunk.toml's pattern_script) names the hashed JS and wasm files.
const script = document.querySelector('script[data-tollgate-wasm]');
const { default: init } = await import(script.dataset.tollgateJs);
await init({ module_or_path: script.dataset.tollgateWasm });
