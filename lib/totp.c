/*
 * totp.c: HOTP/TOTP codes and base32; see totp.h.  HMAC-SHA1 comes from
 * libcrypto.  Nothing here keeps state: the caller stores the last
 * accepted step.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "totp.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

uint32_t
totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter,
    int digits)
{
	unsigned char	 msg[8], md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, off;
	uint32_t	 bin, mod = 1;
	int		 i;

	for (i = 7; i >= 0; i--) {
		msg[i] = counter & 0xff;
		counter >>= 8;
	}
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), md,
	    &mdlen) == NULL || mdlen != 20)
		return UINT32_MAX;	/* never a valid code */
	off = md[19] & 0xf;
	bin = (uint32_t)(md[off] & 0x7f) << 24 | (uint32_t)md[off + 1] << 16 |
	    (uint32_t)md[off + 2] << 8 | md[off + 3];
	OPENSSL_cleanse(md, sizeof(md));
	for (i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

uint64_t
totp_step(time_t now)
{
	return now < 0 ? 0 : (uint64_t)now / TOTP_PERIOD;
}

int
totp_verify(const unsigned char *key, size_t keylen, const char *code,
    time_t now, uint64_t last_step, uint64_t *stepp)
{
	char		 want[TOTP_DIGITS + 1];
	uint64_t	 step = totp_step(now), s;
	int		 i, found = -1;

	if (strlen(code) != TOTP_DIGITS)
		return -1;
	for (i = 0; i < TOTP_DIGITS; i++)
		if (!isdigit((unsigned char)code[i]))
			return -1;
	for (s = step == 0 ? 0 : step - 1; s <= step + 1; s++) {
		(void)snprintf(want, sizeof(want), "%0*u", TOTP_DIGITS,
		    (unsigned)totp_hotp(key, keylen, s, TOTP_DIGITS));
		if (CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0 &&
		    s > last_step && found == -1) {
			*stepp = s;
			found = 0;
		}
	}
	OPENSSL_cleanse(want, sizeof(want));
	return found;
}

int
totp_base32(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	size_t		 i, o = 0;
	uint32_t	 buf = 0;
	int		 bits = 0;

	if (outsz < (len * 8 + 4) / 5 + 1)
		return -1;
	for (i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(buf >> (bits - 5)) & 0x1f];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(buf << (5 - bits)) & 0x1f];
	out[o] = '\0';
	return 0;
}

int
totp_base32_decode(const char *in, unsigned char *out, size_t outsz)
{
	const char	*p;
	size_t		 o = 0;
	uint32_t	 buf = 0;
	int		 bits = 0;

	for (; *in != '\0'; in++) {
		if ((p = strchr(b32, toupper((unsigned char)*in))) == NULL)
			return -1;
		buf = (buf << 5) | (uint32_t)(p - b32);
		bits += 5;
		if (bits >= 8) {
			if (o == outsz)
				return -1;
			out[o++] = (buf >> (bits - 8)) & 0xff;
			bits -= 8;
		}
	}
	return (int)o;
}
