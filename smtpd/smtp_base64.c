/*
 * smtp_base64.c: strict base64 decoding (RFC 4648 4) for the responses
 * of SMTP AUTH (RFC 4954 4), which must be refused, not guessed at, when
 * they are malformed.
 *
 * smtp_b64_decode(in, len, out, outsz)
 *	Decodes len characters: whole 4-character quanta only, '=' padding
 *	only at the very end, no whitespace or other characters, and the
 *	unused bits before the padding zero (so each byte string has one
 *	encoding).  Returns the decoded length, or -1 when the input is
 *	malformed or does not fit in outsz bytes.  Pure.
 */

#include <sys/types.h>

#include "smtp.h"

static int
smtp_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t
smtp_b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
	size_t	 i, o = 0;
	int	 v[4], k, pad;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && k >= 2 && i + 4 == len) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 ||
			    (v[k] = smtp_b64_value(in[i + k])) == -1)
				return -1;
		}
		if ((pad == 2 && (v[1] & 0xf) != 0) ||
		    (pad == 1 && (v[2] & 0x3) != 0))
			return -1;
		if (outsz - o < (size_t)(3 - pad))
			return -1;
		out[o++] = v[0] << 2 | v[1] >> 4;
		if (pad < 2)
			out[o++] = (v[1] & 0xf) << 4 | v[2] >> 2;
		if (pad < 1)
			out[o++] = (v[2] & 0x3) << 6 | v[3];
	}
	return o;
}
