import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localZoneKey } from './gather.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-zone-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('localZoneKey (the time zone in report cache keys)', () => {
  it('is TZ when set, whatever /etc/localtime says', () => {
    expect(localZoneKey({ TZ: 'Pacific/Kiritimati' }, join(dir, 'none'))).toBe('TZ=Pacific/Kiritimati');
    expect(localZoneKey({ TZ: 'UTC' }, join(dir, 'none'))).not.toBe(localZoneKey({ TZ: 'Europe/Berlin' }));
  });

  it('is the localtime link target when TZ is unset or empty, so a zone change is another key', () => {
    const berlin = join(dir, 'localtime-berlin');
    const tokyo = join(dir, 'localtime-tokyo');
    symlinkSync('/usr/share/zoneinfo/Europe/Berlin', berlin);
    symlinkSync('/usr/share/zoneinfo/Asia/Tokyo', tokyo);
    expect(localZoneKey({}, berlin)).toBe('link=/usr/share/zoneinfo/Europe/Berlin');
    expect(localZoneKey({ TZ: '' }, tokyo)).toBe('link=/usr/share/zoneinfo/Asia/Tokyo');
  });

  it('asks Intl when the zone file is a copy or missing (no link to read)', () => {
    const copy = join(dir, 'localtime-copy');
    writeFileSync(copy, 'TZif');
    const intl = `intl=${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
    expect(localZoneKey({}, copy)).toBe(intl);
    expect(localZoneKey({}, join(dir, 'missing'))).toBe(intl);
  });
});
