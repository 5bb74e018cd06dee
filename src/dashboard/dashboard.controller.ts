import { readFile } from 'node:fs/promises';
import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AppError } from '../infra/errors/app-error.js';
import { Public } from '../infra/http/public.js';
import { DASHBOARD_HTML } from './dashboard.html.js';

/**
 * Built by `npm run build` (esbuild bundles web/main.ts with the SDK) next to
 * this file's compiled output, so production, installed without dev
 * dependencies, serves a prebuilt file.
 */
const BUNDLE = new URL('./public/app.js', import.meta.url);

/**
 * The live dashboard (api role): one HTML page and its script. Both are
 * documented in the OpenAPI document like every route (the route test keeps
 * the two lists equal). Neither reads a query or a body, and the page is
 * static: the script talks to the public API with the token the user types,
 * so the dashboard grants nothing the API does not.
 */
@ApiTags('dashboard')
@Public() // static page and script; their data comes over channels, which need the token
@Controller()
export class DashboardController {
  private bundle?: Promise<string>;

  @ApiOperation({ summary: 'The live dashboard (HTML)' })
  @ApiProduces('text/html')
  @ApiResponse({
    status: 200,
    description: 'the page',
    content: { 'text/html': { schema: { type: 'string' } } },
  })
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  // The page runs only its own script and talks only to this origin.
  @Header(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  )
  page(): string {
    return DASHBOARD_HTML;
  }

  @ApiOperation({ summary: "The dashboard's script (bundled with the client SDK)" })
  @ApiProduces('text/javascript')
  @ApiResponse({
    status: 200,
    description: 'the script',
    content: { 'text/javascript': { schema: { type: 'string' } } },
  })
  @ApiResponse({ status: 503, description: 'not built (run `npm run build`)' })
  @Get('dashboard/app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  async script(): Promise<string> {
    // A string, so Nest sends it as is (an object would go out as JSON). Read once; a failed read is retried on the next request (the build may come later in dev).
    this.bundle ??= readFile(BUNDLE, 'utf8').catch((err: unknown) => {
      this.bundle = undefined;
      throw new AppError('unavailable', `dashboard script not built: ${(err as Error).message}`);
    });
    return this.bundle;
  }
}
