import { LabIcon } from "@jupyterlab/ui-components";

// A deck of three cards, in the theme's icon color (`jp-icon3` follows light and dark themes).
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 6h13a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1zm1 2v10h11V8z"/>
    <path d="M7 3h13a1 1 0 0 1 1 1v12h-2V5H7z"/>
    <path d="M6 11h9v2H6zm0 3h6v2H6z"/>
  </g>
</svg>`;

export const deckIcon = new LabIcon({ name: "modeldeck:deck", svgstr });
