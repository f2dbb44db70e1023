// The version handshake with the server extension, before the view mounts. The anchors' most common
// failure is an extension that silently does not load; here every failure becomes one sentence saying
// exactly what to run.

export const SERVER_EXTENSION_MISSING =
  "The modeldeck server extension is not enabled: run `jupyter server extension enable modeldeck` and " +
  "restart JupyterLab (check with `jupyter server extension list`)";

export type Handshake = { ok: true; server: string } | { ok: false; message: string };

/** What `GET /modeldeck/api/version` answers (docs/sidebar-protocol.md). */
interface VersionReply {
  server: string;
  frontend: string;
  ok: boolean;
  fix: string | null;
}

/**
 * Asks the server extension whether it matches this frontend. `request` is a GET of a path under the
 * server's base URL (the host passes one with JupyterLab's auth).
 */
export async function handshake(frontend: string, request: (path: string) => Promise<Response>): Promise<Handshake> {
  let response: Response;
  try {
    response = await request(`modeldeck/api/version?frontend=${encodeURIComponent(frontend)}`);
  } catch (error) {
    return { ok: false, message: `The Jupyter server did not answer (${String(error)}); reload the page.` };
  }
  if (response.status === 404) return { ok: false, message: SERVER_EXTENSION_MISSING };
  if (!response.ok) {
    return {
      ok: false,
      message: `The modeldeck server extension answered ${response.status} ${response.statusText}; see the Jupyter server's log.`,
    };
  }
  const reply = (await response.json()) as VersionReply;
  if (reply.ok) return { ok: true, server: reply.server };
  return {
    ok: false,
    message:
      reply.fix ??
      `This page's modeldeck extension is ${frontend}, the server's modeldeck is ${reply.server}: install one version of modeldeck and reload the page.`,
  };
}
