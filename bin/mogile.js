#!/usr/bin/env node
// npm's `mogile` bin: registers tsx next to this file (so any working directory works), then runs mogile.ts.
import { register } from "tsx/esm/api";

register();
await import("./mogile.ts");
