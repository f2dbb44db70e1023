// esbuild bundles imported CSS into panel.css next to panel.js.
declare module "*.css";
