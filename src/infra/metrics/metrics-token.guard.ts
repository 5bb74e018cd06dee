import { createHash, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { type AppConfig, InjectConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * /metrics takes its own bearer, METRICS_TOKEN (a scraper is not a user and
 * holds no JWT); unset, /metrics stays open as before. Compared in constant
 * time over digests, so neither the content nor the length leaks.
 */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@InjectConfig() config: AppConfig) {
    this.expected = config.METRICS_TOKEN ? digest(config.METRICS_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const given = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), this.expected)) {
      throw new AppError('unauthorized', '/metrics needs Authorization: Bearer <METRICS_TOKEN>');
    }
    return true;
  }
}
