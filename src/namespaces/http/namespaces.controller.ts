import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, UseGuards } from '@nestjs/common';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AdminGuard } from '../../auth/admin.guard.js';
import { ApiErrors } from '../../docs/openapi.js';
import { CreateNamespace, Namespace, NamespaceList, NamespaceSettings } from '../../docs/openapi-models.js';
import { CreateNamespaceDto, NamespaceSettingsDto } from '../dto/namespace-settings.dto.js';
import type { NamespaceEntity } from '../namespace.entity.js';
import { NamespacesService } from '../namespaces.service.js';

/**
 * `/v1/namespaces`: the REST resource pattern (see docs/extending.md).
 * Namespace settings decide who may publish where: admin tokens only.
 */
@ApiTags('namespaces')
@ApiErrors(401, [403, 'this endpoint needs an admin token'], 503)
@UseGuards(AdminGuard)
@Controller('v1/namespaces')
export class NamespacesController {
  constructor(private readonly namespaces: NamespacesService) {}

  @ApiOperation({ summary: 'All namespaces with settings' })
  @ApiOkResponse({ type: NamespaceList })
  @Get()
  async list(): Promise<{ namespaces: NamespaceEntity[] }> {
    return { namespaces: await this.namespaces.list() };
  }

  @ApiOperation({ summary: 'Create a namespace' })
  @ApiBody({ type: CreateNamespace })
  @ApiResponse({ status: 201, type: Namespace })
  @ApiErrors([400, 'clientPublish must be a boolean value'], [409, 'name already exists'])
  @Post()
  create(@Body() body: CreateNamespaceDto): Promise<NamespaceEntity> {
    return this.namespaces.create(body);
  }

  @ApiOperation({ summary: 'One namespace' })
  @ApiParam({ name: 'name', example: 'chat' })
  @ApiOkResponse({ type: Namespace })
  @ApiErrors(
    [400, 'name must be 1-64 characters of A-Z a-z 0-9 _ - . (no colon)'],
    [404, 'namespace chat not found'],
  )
  @Get(':name')
  get(@Param('name') name: string): Promise<NamespaceEntity> {
    return this.namespaces.get(name);
  }

  @ApiOperation({ summary: 'Change settings; null clears a setting back to the instance default' })
  @ApiParam({ name: 'name', example: 'chat' })
  @ApiBody({ type: NamespaceSettings })
  @ApiOkResponse({ type: Namespace })
  @ApiErrors(
    [400, 'name must be 1-64 characters of A-Z a-z 0-9 _ - . (no colon)'],
    [404, 'namespace chat not found'],
  )
  @Patch(':name')
  update(@Param('name') name: string, @Body() body: NamespaceSettingsDto): Promise<NamespaceEntity> {
    return this.namespaces.update(name, body);
  }

  @ApiOperation({ summary: 'Delete a namespace (its channels fall back to the defaults)' })
  @ApiParam({ name: 'name', example: 'chat' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiErrors(
    [400, 'name must be 1-64 characters of A-Z a-z 0-9 _ - . (no colon)'],
    [404, 'namespace chat not found'],
  )
  @Delete(':name')
  @HttpCode(204)
  remove(@Param('name') name: string): Promise<void> {
    return this.namespaces.remove(name);
  }
}
