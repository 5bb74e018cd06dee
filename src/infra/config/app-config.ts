import { Inject } from '@nestjs/common';

/** Injection token for the parsed, typed {@link AppConfig}. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const InjectConfig = () => Inject(APP_CONFIG);
export type { AppConfig, Role } from './config.schema.js';
