// "Copy as code" for deployments: `deck.deploy(...)` and `deck.predict(..., deployment=...)`, from the same
// arguments the view sends as actions. Models by name (the id only where the name is ambiguous).

import { call, kwargs, preamble, py, type CodeContext } from "./code";
import type { UpgradeMode } from "./types";

export interface DeployArgs {
  /** The model as code names it: its name, or its id where the name is not unique. */
  model: string;
  version?: string | null;
  name: string;
  replicas: number;
  engine: string;
  upgrade: UpgradeMode["mode"] | UpgradeMode;
}

export function deployCode(ctx: CodeContext, args: DeployArgs): string {
  const dep = call("deck.deploy", [
    py(args.model),
    ...(args.version ? [py(args.version)] : []),
    ...kwargs({ name: args.name, replicas: args.replicas, engine: args.engine, upgrade: args.upgrade }),
  ]);
  return `${preamble(ctx)}\n\ndep = ${dep}\nprint(dep.status, dep.status_reason or dep.endpoint)\n`;
}

export function deploymentPredictCode(ctx: CodeContext, args: { deployment: string; inputs?: unknown }): string {
  const inputs = args.inputs === undefined ? "[]  # an array, a dict of input name to array, or row dicts" : py(args.inputs);
  const predict = call("deck.predict", ["None", "inputs", `deployment=${py(args.deployment)}`]);
  return `${preamble(ctx)}\n\ninputs = ${inputs}\nprediction = ${predict}\nprint(prediction.outputs)\n`;
}
