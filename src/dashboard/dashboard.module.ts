import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller.js';

/** The dashboard page at `/` and its script (api role). */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
