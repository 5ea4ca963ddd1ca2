#!/usr/bin/env node
// Runs the built CLI: in a clone `npm install` builds it (`npm run build` after a change); a
// release tarball (`npm run release`) carries it built. This file is committed, so it exists
// when npm links package bins at install time, which comes before the build: with `bin`
// pointing into dist/, a fresh clone got no `npx speedwatch-agent`.
//
// `run` first asks the launcher whether an upgrade made another installed version current
// (DATA_DIR/current, docs/fleet.md "Upgrades"): if so it runs that version's bin instead.
const launched = process.argv[2] === 'run' && (await (await import('../dist/src/upgrade/launcher.js')).launch(process.argv.slice(3)));
if (!launched) await import('../dist/src/bin/speedwatch-agent.js');
