import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { NGINX_TEMPLATE, nginxBodyLimit, renderTemplate, templateVariables } from '../../dev/nginx.js';

const template = readFileSync(NGINX_TEMPLATE, 'utf8');
const compose = readFileSync('docker/compose.yml', 'utf8');
const nginxService = /^ {2}nginx:\n((?: {4}.*\n|\n)*)/m.exec(compose)![1];

/** What the nginx image's entrypoint (20-envsubst-on-templates.sh) runs on a template, with `env`. */
function imageSubstitution(text: string, env: Record<string, string>): string {
  return execFileSync(
    'perl',
    ['-pe', 's|\\$(\\{)?($ENV{NGINX_ENVSUBST_FILTER}\\w*)(?(1)\\})|$ENV{$2} // $&|ge'],
    {
      input: text,
      env: { PATH: process.env.PATH, NGINX_ENVSUBST_FILTER: 'SQUALL_', ...env },
      encoding: 'utf8',
    },
  );
}

describe('docker/nginx.conf, the one template', () => {
  it('has exactly the variables every topology fills in', () => {
    const used = new Set([...template.matchAll(/\$\{?(SQUALL_\w+)/g)].map((m) => m[1]));
    const filled = templateVariables({ listen: '80', upstreams: ['a:1'], maxMessageBytes: 65536 });
    expect([...used].sort()).toEqual(Object.keys(filled).sort());
  });

  it('renders as the nginx image renders it (so compose and npm run cluster get the same file)', () => {
    const variables = templateVariables({
      listen: '127.0.0.1:8080',
      upstreams: ['127.0.0.1:3001', '127.0.0.1:3002'],
      maxMessageBytes: 1_000_000,
    });
    const ours = renderTemplate(template, variables);
    expect(ours).toBe(imageSubstitution(template, variables));
    expect(ours).not.toMatch(/\$\{?SQUALL_/);
    // nginx's own variables are left alone.
    expect(ours).toContain('proxy_set_header Host $host;');
    expect(() => renderTemplate(template, {})).toThrow(/no value for SQUALL_/);
  });

  it('compose feeds the template to the image with every variable, the body limit derived as npm run cluster derives it', () => {
    expect(nginxService).toContain('- ./nginx.conf:/etc/nginx/templates/nginx.conf.template:ro');
    expect(nginxService).toContain('NGINX_ENVSUBST_OUTPUT_DIR: /etc/nginx');
    expect(nginxService).toContain('NGINX_ENVSUBST_FILTER: SQUALL_');
    expect(nginxService).toMatch(/SQUALL_LISTEN: "80"/);
    expect(nginxService).toMatch(
      /SQUALL_UPSTREAM_SERVERS: >-\n\s+server app1:3000 [^;]+;\n\s+server app2:3000 [^;]+;/,
    );
    expect(nginxService).toContain(
      '- ./nginx-body-limit.envsh:/docker-entrypoint.d/15-squall-body-limit.envsh:ro',
    );
    // The entrypoint sources *.envsh only when executable.
    expect(statSync('docker/nginx-body-limit.envsh').mode & 0o111).not.toBe(0);
    for (const bytes of ['', '16', '65536', '1000000', String(16 * 1024 * 1024)]) {
      const fromShell = execFileSync(
        'sh',
        ['-c', '. docker/nginx-body-limit.envsh; printf %s "$SQUALL_CLIENT_MAX_BODY_SIZE"'],
        {
          env: { PATH: process.env.PATH, MAX_MESSAGE_BYTES: bytes },
          encoding: 'utf8',
        },
      );
      expect({ bytes, limit: fromShell }).toEqual({ bytes, limit: nginxBodyLimit(Number(bytes || 65536)) });
    }
  });

  it('keeps nginx above the instances` own JSON body limit, so they answer their own 413', () => {
    for (const bytes of [16, 65536, 1_000_000]) {
      const nginxBytes = Number(nginxBodyLimit(bytes).replace('k', '')) * 1024;
      expect(nginxBytes).toBeGreaterThanOrEqual(bytes * 2 + 16 * 1024 + 64 * 1024);
    }
  });
});
