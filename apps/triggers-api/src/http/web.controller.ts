import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';

/** The page's three files, read once; `npm run build` copies apps/triggers-api/web next to the compiled app. */
const WEB_DIR = join(__dirname, '../../web');
const read = (file: string) => readFileSync(join(WEB_DIR, file), 'utf8');

// Only this origin's own files run: no inline script, nothing from elsewhere.
const CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";

/**
 * The Integration › Triggers web page. It is public; everything it shows comes from the API with
 * the key the admin signs in with.
 */
@ApiExcludeController()
@Controller()
export class WebController {
  private readonly files = { html: read('index.html'), js: read('app.js'), css: read('app.css') };

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CSP)
  @Header('x-content-type-options', 'nosniff')
  page(): string {
    return this.files.html;
  }

  @Get('app.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('x-content-type-options', 'nosniff')
  script(): string {
    return this.files.js;
  }

  @Get('app.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('x-content-type-options', 'nosniff')
  style(): string {
    return this.files.css;
  }
}
