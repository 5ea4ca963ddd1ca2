import { describe, expect, it } from 'vitest';
import { ValidationError } from '@speedwatch/shared';
import { endpointFromBaseUrl, endpointsFromServerList } from '../src/index.js';

describe('endpoints', () => {
  describe('endpointFromBaseUrl', () => {
    it("resolves LibreSpeed's default paths under the base, as a directory", () => {
      const e = endpointFromBaseUrl('http://127.0.0.1:8601/speedtest');
      expect(e.name).toBe('127.0.0.1:8601');
      expect(e.downloadUrl.href).toBe('http://127.0.0.1:8601/speedtest/garbage.php');
      expect(e.uploadUrl.href).toBe('http://127.0.0.1:8601/speedtest/empty.php');
      expect(e.pingUrl.href).toBe('http://127.0.0.1:8601/speedtest/empty.php');
      expect(e.getIpUrl.href).toBe('http://127.0.0.1:8601/speedtest/getIP.php');
    });

    it.each(['ftp://example.test/', 'not a url', '/relative/path'])('refuses %s, naming the flag', (raw) => {
      expect(() => endpointFromBaseUrl(raw, undefined, '--endpoint')).toThrow(/^--endpoint: expected an (absolute )?http/);
    });
  });

  describe('endpointsFromServerList', () => {
    it('reads a LibreSpeed list, with protocol-relative servers taken as https and custom paths', () => {
      const list = [
        { name: 'Hà Nội', server: '//hn.example.test/backend/', dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php', id: 1, sponsorName: 'VNNIC' },
        { name: 'Go', server: 'http://10.0.0.2:8989', dlURL: 'backend/garbage', ulURL: 'backend/empty', pingURL: 'backend/empty', getIpURL: 'backend/getIP' },
      ];
      const [hn, go] = endpointsFromServerList(list);
      expect(hn?.downloadUrl.href).toBe('https://hn.example.test/backend/garbage.php');
      expect(go?.uploadUrl.href).toBe('http://10.0.0.2:8989/backend/empty');
      expect(go?.baseUrl).toBe('http://10.0.0.2:8989/');
    });

    it.each<[string, unknown, string]>([
      ['an empty list', [], 'servers'],
      ['an entry without a server', [{ name: 'a' }], 'servers[0].server'],
      ['a server that is not a URL', [{ name: 'a', server: 'http://ok/' }, { name: 'b', server: 'gopher://x' }], 'servers[1].server'],
      ['two entries with one name', [{ name: 'a', server: 'http://x/' }, { name: 'a', server: 'http://y/' }], 'servers[1].name'],
      ['an unknown field', [{ name: 'a', server: 'http://x/', dlUrl: 'typo' }], 'servers[0].dlUrl'],
    ])('rejects %s, naming %s', (_case, list, path) => {
      try {
        endpointsFromServerList(list);
        expect.unreachable('should have thrown');
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).path).toBe(path);
      }
    });
  });
});
