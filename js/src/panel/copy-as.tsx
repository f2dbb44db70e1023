// "Copy as code" in several clients (Python, curl, the OpenAI SDK): pick one, copy it.

import { useState } from "preact/hooks";
import { CopyCode } from "./ui";

export type Snippets = Record<string, () => string>;

export function CopyCodeAs({ snippets }: { snippets: Snippets }) {
  const names = Object.keys(snippets);
  const [chosen, setChosen] = useState(names[0]);
  const name = names.includes(chosen) ? chosen : names[0];
  return (
    <span class="md-copy-as">
      <select class="md-input md-small" aria-label="Copy as" data-testid="md-copy-as" value={name} onChange={(e) => setChosen(e.currentTarget.value)}>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <CopyCode code={snippets[name]} snippet={name} />
    </span>
  );
}
