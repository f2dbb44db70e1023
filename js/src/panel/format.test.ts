import { describe, expect, it } from "vitest";
import { formatNumber, formatTime, humanLabel, origin, plural } from "./format";

describe("formatNumber", () => {
  it("hides float noise, keeps integers and large values whole", () => {
    expect(formatNumber(0.9099999999999999)).toBe("0.91");
    expect(formatNumber(0.83000000001)).toBe("0.83");
    expect(formatNumber(12345.678)).toBe("12346");
    expect(formatNumber(3)).toBe("3");
    expect(formatNumber(-1.23456)).toBe("-1.235");
    expect(formatNumber(0.00001234)).toBe("1.234e-5");
    expect(formatNumber(0.123456789, 6)).toBe("0.123457");
  });
});

describe("formatTime", () => {
  it("shows minutes", () => {
    expect(formatTime("2025-01-15T10:30:59.123Z")).toBe("2025-01-15 10:30");
    expect(formatTime(null)).toBe("");
  });
});

describe("plural", () => {
  it("says 1 model, 0 and 2 models, and groups thousands", () => {
    expect(plural(1, "model")).toBe("1 model");
    expect(plural(0, "model")).toBe("0 models");
    expect(plural(2, "version")).toBe("2 versions");
    expect(plural(1200, "model")).toBe("1,200 models");
    expect(plural(1, "match", "matches")).toBe("1 match");
  });
});

describe("humanLabel", () => {
  it("writes enum values as people do, and keeps unknown ones readable", () => {
    expect(humanLabel("fine_tune")).toBe("Fine-tune");
    expect(humanLabel("Pytorch")).toBe("PyTorch");
    expect(humanLabel("ScikitLearn")).toBe("scikit-learn");
    expect(humanLabel("ONNX")).toBe("ONNX");
    expect(humanLabel("some_new_value")).toBe("some new value");
    expect(["register", "approve"].map(humanLabel)).toEqual(["Register", "Approve"]); // a PAI model's actions
  });
});

describe("origin", () => {
  it("names each world of an Alibaba profile: Model Studio's authorized models and PAI's registry", () => {
    expect(origin({ source: "authorized", owner_workspace_name: "" })).toBe("authorized");
    expect(origin({ source: "pai", owner_workspace_name: "" })).toBe("PAI registry");
    expect(origin({ source: "granted", owner_workspace_name: "team-a" })).toBe("from team-a");
  });
});
