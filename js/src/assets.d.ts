// esbuild bundles the panel's stylesheet into panel.js as text (`--loader:.css=text`); see widget.ts.
declare module "*.css" {
  const text: string;
  export default text;
}
