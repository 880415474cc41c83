#!/usr/bin/env python3
"""Independent reference implementation of the Portvakt credential formats, written from
docs/credentials.md (not from the Rust code), producing the published test vectors.
Needs Python's `cryptography` package. Run: python3 make_credential_vectors.py"""
import hashlib, hmac, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

def s(x):  # string: u16 length + UTF-8
    b = x.encode(); return struct.pack('>H', len(b)) + b
def opt_s(x): return b'\x00' if x is None else b'\x01' + s(x)
def opt_i64(x): return b'\x00' if x is None else b'\x01' + struct.pack('>q', x)
def token(kind, b32): return bytes([{'pin': 1, 'tag': 2, 'phone': 3}[kind]]) + b32

def policy_bytes(p):
    """schedules: (name, holiday_rule, windows[(mask, start_s, end_s)], active[((y,m,d),(y,m,d))],
    exceptions[((y,m,d), closed, spans[(start_s, end_s)])]); door_code; free[(door, schedule|None)]"""
    date = lambda d: struct.pack('>HBB', *d)
    out = struct.pack('>H', len(p['schedules']))
    for name, rule, windows, active, exceptions in p['schedules']:
        out += s(name) + bytes([rule]) + struct.pack('>H', len(windows))
        out += b''.join(bytes([m]) + struct.pack('>II', a, b) for m, a, b in windows)
        out += struct.pack('>H', len(active)) + b''.join(date(a) + date(b) for a, b in active)
        out += struct.pack('>H', len(exceptions))
        for d, closed, spans in exceptions:
            out += date(d) + bytes([1 if closed else 0]) + struct.pack('>H', len(spans))
            out += b''.join(struct.pack('>II', a, b) for a, b in spans)
    out += opt_s(p['door_code']) + bytes([len(p['free'])])
    out += b''.join(s(d) + opt_s(sch) for d, sch in p['free'])
    return out

def bundle_body(authority, site, version, issued, not_after, entries, bookings, policy=None):
    out = s(authority) + s(site) + struct.pack('>Qqq', version, issued, not_after) + struct.pack('>I', len(entries))
    for e in entries:
        out += s(e['id']) + s(e['holder']) + s(e['role']) + token(e['kind'], e['token'])
        out += bytes([len(e['doors'])]) + b''.join(s(d) for d in e['doors'])
        out += opt_s(e['schedule']) + opt_i64(e['valid_from']) + opt_i64(e['valid_until'])
    out += struct.pack('>I', len(bookings))
    for b in bookings:
        out += s(b['holder']) + s(b['door']) + struct.pack('>qq', b['start'], b['end'])
    out += b'\x00' if policy is None else b'\x01' + policy_bytes(policy)
    return out

def seal(doc_type, body, seed):
    key = Ed25519PrivateKey.from_private_bytes(seed)
    sig = key.sign(b'portvakt.signed.v1\x00' + bytes([doc_type]) + body)
    return b'PVKT' + bytes([1, doc_type]) + struct.pack('>I', len(body)) + body + sig

site_key = bytes(range(32))
tag_digest = hmac.new(site_key, b'portvakt/tag/v1\x00' + b'04A2197F', hashlib.sha256).digest()
pin_digest = hmac.new(site_key, b'portvakt/pin/v1\x00' + b'4711', hashlib.sha256).digest()
print('site key        ', site_key.hex())
print('tag 04:a2:19:7f ', tag_digest.hex())
print('pin 4711        ', pin_digest.hex())

entries = [
    dict(id='anna-tag', holder='anna', role='resident', kind='tag', token=tag_digest,
         doors=['entrance', 'laundry'], schedule=None, valid_from=None, valid_until=1796000000000),
    dict(id='care-1', holder='kalle', role='home_care', kind='phone', token=bytes([1]) * 32,
         doors=['entrance'], schedule='day', valid_from=1795000000000, valid_until=None),
]
bookings = [dict(holder='anna', door='laundry', start=1795010000000, end=1795020800000)]
policy = dict(
    schedules=[('late', 1, [(0b0011111, 6 * 3600, 23 * 3600), (0b1100000, 22 * 3600, 2 * 3600)],
                [((2026, 1, 1), (2026, 12, 31))], [((2026, 12, 24), True, []), ((2026, 12, 31), False, [(36000, 50400)])])],
    door_code='late',
    free=[('entrance', None), ('rubbish', 'late')])
body = bundle_body('owner', 'test-site', 7, 1795000000000, 1797592000000, entries, bookings, policy)
print('bundle envelope ', seal(1, body, bytes([1]) * 32).hex())

rev = s('kommunen') + s('*') + struct.pack('>Qq', 3, 1795000000000) + struct.pack('>I', 1) + s('care-2') \
      + struct.pack('>I', 1) + bytes([1]) * 32
print('revocations     ', seal(2, rev, bytes([2]) * 32).hex())

# A delegation (type 7): kommunen lets issuer "central" (seed 0x49...) sign shift
# certificates for home care at the entrance and rubbish room, up to 12 h, for 30 days.
issuer_public = Ed25519PrivateKey.from_private_bytes(bytes([0x49]) * 32).public_key().public_bytes_raw()
delegation = s('kommunen') + s('central-2026') + s('central') + issuer_public + s('*') \
    + bytes([1]) + s('home_care') + bytes([2]) + s('entrance') + s('rubbish') \
    + struct.pack('>qqq', 12 * 3600 * 1000, 1795000000000, 1797592000000)
delegation_envelope = seal(7, delegation, bytes([2]) * 32)
print('delegation      ', delegation_envelope.hex())

# A delegated certificate (type 8) for a P-256 phone key, named by its id: SHA-256 of the
# 65-byte uncompressed key (the BLE vectors' P-256 key).
p256 = bytes.fromhex('047431b18f055ac873b1eb7d74d8716ad1e3df06908b00cc2f901153f8eb6428'
                     '184867c0fdab339c6c490a39ae704d29b5b4c2f1244350a29059622cf49b421155')
cert = s('kommunen') + s('*') + s('shift-anna-1') + s('anna') + s('home_care') + hashlib.sha256(p256).digest() \
    + bytes([1]) + s('entrance') + struct.pack('>qq', 1795000000000, 1795036000000) + b'\x00'
delegated = struct.pack('>I', len(delegation_envelope)) + delegation_envelope + cert
print('delegated cert  ', seal(8, delegated, bytes([0x49]) * 32).hex())
