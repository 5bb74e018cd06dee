import { Module } from '@nestjs/common';
import { NamespacesModule } from '../namespaces.module.js';
import { NamespacesController } from './namespaces.controller.js';

/** `/v1/namespaces`, served by the `api` role. */
@Module({ imports: [NamespacesModule], controllers: [NamespacesController] })
export class NamespacesHttpModule {}
