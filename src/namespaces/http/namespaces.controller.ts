import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { CreateNamespaceDto, NamespaceSettingsDto } from '../dto/namespace-settings.dto.js';
import type { NamespaceEntity } from '../namespace.entity.js';
import { NamespacesService } from '../namespaces.service.js';

/** `/v1/namespaces`: the REST resource pattern (see docs/extending.md). */
@Controller('v1/namespaces')
export class NamespacesController {
  constructor(private readonly namespaces: NamespacesService) {}

  @Get()
  async list(): Promise<{ namespaces: NamespaceEntity[] }> {
    return { namespaces: await this.namespaces.list() };
  }

  @Post()
  create(@Body() body: CreateNamespaceDto): Promise<NamespaceEntity> {
    return this.namespaces.create(body);
  }

  @Get(':name')
  get(@Param('name') name: string): Promise<NamespaceEntity> {
    return this.namespaces.get(name);
  }

  @Patch(':name')
  update(@Param('name') name: string, @Body() body: NamespaceSettingsDto): Promise<NamespaceEntity> {
    return this.namespaces.update(name, body);
  }

  @Delete(':name')
  @HttpCode(204)
  remove(@Param('name') name: string): Promise<void> {
    return this.namespaces.remove(name);
  }
}
