import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NamespaceEntity } from './namespace.entity.js';
import { NamespacesService } from './namespaces.service.js';

/** Namespace settings, read by the channel core in every role. */
@Module({
  imports: [TypeOrmModule.forFeature([NamespaceEntity])],
  providers: [NamespacesService],
  exports: [NamespacesService],
})
export class NamespacesModule {}
