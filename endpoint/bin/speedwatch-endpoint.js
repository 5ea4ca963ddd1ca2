#!/usr/bin/env node
// Runs the built CLI (`npm install` builds it; `npm run build` after a change). This file is
// committed, so it exists when npm links package bins at install time, which comes before the
// build: with `bin` pointing into dist/, a fresh clone got no `npx speedwatch-endpoint`.
import '../dist/src/bin/speedwatch-endpoint.js';
