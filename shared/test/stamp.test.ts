import { describe, expect, it } from 'vitest';
import {
  STAMP_MIN_PACKET_BYTES,
  readNtpTimestamp,
  readReflectorPacket,
  reflectInPlace,
  senderSsid,
  writeNtpTimestamp,
  writeSenderPacket,
} from '../src/index.js';

describe('STAMP packets', () => {
  describe('NTP timestamps', () => {
    it.each([
      ['the Unix epoch', 0],
      ['a time with a fraction of a millisecond', 1_764_000_000_123.456],
      ['a time after the NTP era rolls over in February 2036', Date.UTC(2040, 0, 1) + 0.5],
    ])('round-trip %s to within a microsecond', (_name, unixMs) => {
      const buf = Buffer.alloc(8);
      writeNtpTimestamp(buf, 0, unixMs);
      expect(Math.abs(readNtpTimestamp(buf, 0) - unixMs)).toBeLessThan(0.001);
    });

    it('writes the Unix epoch as NTP seconds 2208988800 and a zero fraction', () => {
      const buf = Buffer.alloc(8);
      writeNtpTimestamp(buf, 0, 0);
      expect([buf.readUInt32BE(0), buf.readUInt32BE(4)]).toEqual([2_208_988_800, 0]);
    });
  });

  it('lays out a sender packet as RFC 8762 §4.2.1 and RFC 8972 give it, the rest zero', () => {
    const packet = Buffer.alloc(172, 0xff);
    writeSenderPacket(packet, 7, 1_000, 0xbeef);
    expect(packet.readUInt32BE(0)).toBe(7);
    expect(readNtpTimestamp(packet, 4)).toBe(1_000);
    expect(packet.readUInt16BE(12)).toBe(0x1601); // S=0, Z=0, Scale 22, Multiplier 1
    expect(senderSsid(packet)).toBe(0xbeef);
    expect(packet.subarray(16).every((b) => b === 0)).toBe(true);
  });

  it('reflects in place: the answer keeps the request length and carries the sender fields and both reflector times', () => {
    const packet = Buffer.alloc(172);
    writeSenderPacket(packet, 41, 5_000.25, 0x1234);
    packet.fill(0xab, 44); // bytes the sender chose beyond the header
    reflectInPlace(packet, 3, 5_010.5, 5_010.75);
    expect(packet.length).toBe(172);
    expect(readReflectorPacket(packet)).toEqual({
      reflectorSeq: 3,
      sentUnixMs: expect.closeTo(5_010.75, 6),
      receivedUnixMs: expect.closeTo(5_010.5, 6),
      senderSeq: 41,
      senderUnixMs: expect.closeTo(5_000.25, 6),
      ssid: 0x1234,
    });
    expect(packet.readUInt16BE(36)).toBe(0x1601); // the sender's error estimate, echoed
    expect(packet.subarray(38).every((b) => b === 0)).toBe(true); // MBZ, TTL 0, and nothing of the sender's padding
  });

  it('reads no reflector packet from fewer than 44 bytes', () => {
    expect(readReflectorPacket(Buffer.alloc(STAMP_MIN_PACKET_BYTES - 1))).toBeUndefined();
    expect(readReflectorPacket(Buffer.alloc(STAMP_MIN_PACKET_BYTES))).toBeDefined();
  });
});
