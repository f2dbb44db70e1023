import { describe, expect, it } from "vitest";
import { handshake, SERVER_EXTENSION_MISSING } from "./handshake";

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });

describe("the version handshake", () => {
  it("asks with this frontend's version and mounts on a match", async () => {
    const asked: string[] = [];
    const result = await handshake("0.1.0", async (path) => {
      asked.push(path);
      return json({ server: "0.1.0", frontend: "0.1.0", ok: true, fix: null });
    });
    expect(asked).toEqual(["modeldeck/api/version?frontend=0.1.0"]);
    expect(result).toEqual({ ok: true, server: "0.1.0" });
  });

  it("shows the server's fix on a mismatch", async () => {
    const fix = "Run `pip install --force-reinstall modeldeck==0.2.0`, then reload the page.";
    const result = await handshake("0.1.0", async () => json({ server: "0.2.0", frontend: "0.1.0", ok: false, fix }));
    expect(result).toEqual({ ok: false, message: fix });
  });

  it("says how to enable the server extension when its route is missing", async () => {
    const result = await handshake("0.1.0", async () => new Response("Not Found", { status: 404 }));
    expect(result).toEqual({ ok: false, message: SERVER_EXTENSION_MISSING });
    expect(SERVER_EXTENSION_MISSING).toContain("jupyter server extension enable modeldeck");
  });

  it("turns other failures into a sentence too", async () => {
    const denied = await handshake("0.1.0", async () => new Response("", { status: 403, statusText: "Forbidden" }));
    expect(denied).toMatchObject({ ok: false, message: expect.stringContaining("403 Forbidden") });
    const down = await handshake("0.1.0", async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(down).toMatchObject({ ok: false, message: expect.stringContaining("did not answer") });
  });
});
