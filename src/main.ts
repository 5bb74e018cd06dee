import { runMain } from './bootstrap.js';

void runMain(process.env);
