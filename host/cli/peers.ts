// edgellm peers: the fleet's peers as their retained status messages describe them.
import { Command } from "commander";
import { int } from "./args.js";
import { connectionOptions, withFleetOptions } from "./fleet-options.js";

export function peersCommand(): Command {
  return withFleetOptions(new Command("peers"))
    .description("list the fleet's peers")
    .option("--json", "print a JSON array")
    .option("--wait <ms>", "how long to collect announcements", int("wait", 0, 60000), 500)
    .action(async (o) => {
      const c = connectionOptions(o, "peers");
      const { FleetClient } = await import("../fleet/client.js"); // loaded only when used
      const client = await FleetClient.connect(c);
      const peers = await client.peers(o.wait);
      await client.close();
      const rows = peers.map((p) => p.online
        ? { id: p.id, online: true, impl: p.impl ?? "", model: p.model.id, quant: p.model.quant, ctx: p.model.ctx, tokPerSec: p.tokPerSec, queue: p.queue, maxQueue: p.maxQueue, freeMem: p.freeMem, adapters: p.adapters ?? [], taskTypes: p.taskTypes ?? [] }
        : { id: p.id, online: false });
      if (o.json) { process.stdout.write(JSON.stringify(rows, null, 2) + "\n"); return; }
      if (rows.length === 0) { process.stdout.write("no peers\n"); return; }
      for (const r of rows) {
        process.stdout.write("online" in r && r.online && "model" in r
          ? `${r.id}\tonline\t${r.model}\t${r.quant}\tctx ${r.ctx}\t${r.tokPerSec} tok/s\tqueue ${r.queue}/${r.maxQueue}${r.adapters?.length ? `\tadapters ${r.adapters.join(",")}` : ""}${r.taskTypes?.length ? `\tserves ${r.taskTypes.join(",")}` : ""}\n`
          : `${r.id}\toffline\n`);
      }
    });
}
