#!/usr/bin/env node
// Runs the built CLI: in a clone `npm install` builds it (`npm run build` after a change); a
// release tarball (`npm run release`) carries it built. This file is committed, so it exists
// when npm links package bins at install time, which comes before the build: with `bin`
// pointing into dist/, a fresh clone got no `npx speedwatch-agent`.
import '../dist/src/bin/speedwatch-agent.js';
