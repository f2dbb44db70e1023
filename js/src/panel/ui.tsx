// Small building blocks shared by the tabs.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { useDeck, useTrait } from "./model";

let lastId = 0;

/** An element id unique on the page, even across several panels (separate render roots). */
export function useUid(): string {
  return useState(() => `md-${++lastId}`)[0];
}

/** A labelled control with an inline message; `children` gets the ids to wire up. */
export function Field(props: {
  label: string;
  error?: string | null;
  hint?: string;
  children: (ids: { id: string; describedBy?: string }) => ComponentChildren;
}) {
  const id = useUid();
  const note = `${id}-note`;
  const message = props.error || props.hint;
  return (
    <div class={`md-field${props.error ? " md-invalid" : ""}`}>
      <label class="md-label" for={id}>
        {props.label}
      </label>
      {props.children({ id, describedBy: message ? note : undefined })}
      {message && (
        <div id={note} class={props.error ? "md-field-error" : "md-field-hint"}>
          {message}
        </div>
      )}
    </div>
  );
}

/** A progress bar; `value` null means "working, amount unknown". */
export function ProgressBar({ value, label }: { value: number | null; label: string }) {
  const pct = value === null ? null : Math.round(Math.min(1, Math.max(0, value)) * 100);
  return (
    <div
      class={`md-progress${pct === null ? " md-indeterminate" : ""}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct ?? undefined}
    >
      <div class="md-progress-fill" style={pct === null ? undefined : { width: `${pct}%` }} />
    </div>
  );
}

/**
 * Copies code to the clipboard. The clipboard API needs a secure context and permission; when it is
 * missing or refused, the code is shown to select by hand. In the sidebar, "Insert code" beside it puts
 * the same code into the current notebook as a new cell (the host does it; the message never leaves the
 * browser). `snippet` names the code for tests and for several snippets side by side.
 */
export function CopyCode({ code, label = "Copy as code", snippet }: { code: () => string; label?: string; snippet?: string }) {
  const sidebar = useTrait("host") === "sidebar";
  const [shown, setShown] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    const text = code();
    try {
      await navigator.clipboard.writeText(text);
      setShown(null);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setShown(text);
    }
  };
  return (
    <div class="md-copy" data-snippet={snippet}>
      <button type="button" class="md-button md-quiet" data-testid="md-copy-code" onClick={copy}>
        {copied ? "Copied" : label}
      </button>
      {sidebar && <InsertCode code={code} />}
      {shown !== null && (
        <div class="md-code-fallback">
          <div class="md-field-hint">The clipboard is not available here; select the code and copy it.</div>
          <pre
            class="md-code"
            tabIndex={0}
            ref={(el) => void (el && selectAll(el))}
            aria-label="Python code"
          >
            {shown}
          </pre>
          <button type="button" class="md-button md-quiet" onClick={() => setShown(null)}>
            Hide code
          </button>
        </div>
      )}
    </div>
  );
}

function InsertCode({ code }: { code: () => string }) {
  const { model } = useDeck();
  return (
    <button
      type="button"
      class="md-button md-quiet"
      data-testid="md-insert-code"
      title="Insert this code as a new cell below the active cell of the current notebook"
      onClick={() => model.send({ type: "insert_code", code: code() })}
    >
      Insert code
    </button>
  );
}

function selectAll(el: HTMLElement) {
  const selection = el.ownerDocument.getSelection();
  if (!selection) return;
  const range = el.ownerDocument.createRange();
  range.selectNodeContents(el);
  selection.removeAllRanges();
  selection.addRange(range);
}

/**
 * The panel's keys stay in the panel: JupyterLab's notebook shortcuts (arrows move between cells, Enter
 * edits one, Shift+Enter runs one) listen where keydown bubbles to, so a key pressed in a field, dropdown or
 * list would also act on the notebook. Ctrl/Cmd/Alt chords and Escape still reach JupyterLab.
 */
export function keepKeys(e: KeyboardEvent) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.key === "Escape") return;
  const target = e.target as Element | null;
  if (target?.closest?.("input, select, textarea, form, [role=listbox], [role=tablist]")) e.stopPropagation();
}

export function Badge({ kind, children }: { kind?: string; children: ComponentChildren }) {
  return <span class={`md-badge${kind ? ` md-badge-${kind.toLowerCase()}` : ""}`}>{children}</span>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="md-empty">{children}</p>;
}
