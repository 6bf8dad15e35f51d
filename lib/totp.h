/*
 * totp.h: one-time codes of RFC 4226 (HOTP) and RFC 6238 (TOTP) with
 * HMAC-SHA1, and the base32 of RFC 4648 that authenticator apps read
 * secrets in.
 *
 * totp_hotp(key, keylen, counter, digits)
 *	The HOTP value of counter: dynamic truncation of HMAC-SHA1(key,
 *	counter as 8 big-endian bytes), modulo 10^digits (6..8).
 * totp_step(now)	the 30-second time step of now (T0 = 0).
 * totp_verify(key, keylen, code, now, last_step, stepp)
 *	code is TOTP_DIGITS decimal digits.  Accepts the code of the step
 *	of now or of one step either side (clock drift), but only a step
 *	after last_step, so a code that was used once is never accepted
 *	again (nor an older one).  0 with *stepp set to the matching step,
 *	or -1.  Codes are compared in constant time.
 * totp_base32(in, len, out, outsz)
 *	Unpadded upper-case base32 of in.  0, or -1 if out is too small
 *	(it needs (len * 8 + 4) / 5 + 1 bytes).
 * totp_base32_decode(in, out, outsz)
 *	The reverse, case-insensitive, padding and spaces not allowed:
 *	the number of bytes, or -1.
 */

#ifndef POSTERN_TOTP_H
#define POSTERN_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_DIGITS	6
#define TOTP_PERIOD	30

uint32_t totp_hotp(const unsigned char *key, size_t keylen,
	    uint64_t counter, int digits);
uint64_t totp_step(time_t now);
int	 totp_verify(const unsigned char *key, size_t keylen,
	    const char *code, time_t now, uint64_t last_step,
	    uint64_t *stepp);
int	 totp_base32(const unsigned char *in, size_t len, char *out,
	    size_t outsz);
int	 totp_base32_decode(const char *in, unsigned char *out,
	    size_t outsz);

#endif /* POSTERN_TOTP_H */
