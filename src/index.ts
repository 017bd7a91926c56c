// Entry point of the action (bundled to dist/index.js). Everything else happens in run().
import { run } from './main.js';

void run();
