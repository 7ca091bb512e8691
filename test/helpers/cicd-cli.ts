// Runs the cicd CLI from source (what bin/cicd.js does with dist/): `node --import tsx test/helpers/cicd-cli.ts server …`.
import { main } from "../../src/cli.js";

process.exitCode = await main(process.argv.slice(2));
