/*
 * Unit tests for lib/totp.c: RFC 4226's HOTP test values, RFC 6238's
 * TOTP test vectors (SHA-1, 8 digits), the ±1 step window, refusal of a
 * reused or older step, malformed codes, and RFC 4648's base32 vectors.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "totp.h"

static const unsigned char	 key[] = "12345678901234567890";
#define KEYLEN	20

static void
test_hotp(void)
{
	static const uint32_t	 want[] = { 755224, 287082, 359152, 969429,
	    338314, 254676, 287922, 162583, 399871, 520489 };
	uint64_t		 c;

	for (c = 0; c < 10; c++)
		is_int(totp_hotp(key, KEYLEN, c, 6), want[c],
		    "RFC 4226 HOTP counter %llu", (unsigned long long)c);
}

static void
test_rfc6238(void)
{
	static const struct {
		long long	 t;
		uint32_t	 code;
	} v[] = {
		{ 59LL, 94287082 }, { 1111111109LL, 7081804 },
		{ 1111111111LL, 14050471 }, { 1234567890LL, 89005924 },
		{ 2000000000LL, 69279037 }, { 20000000000LL, 65353130 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		is_int(totp_hotp(key, KEYLEN, totp_step((time_t)v[i].t), 8),
		    v[i].code, "RFC 6238 SHA-1 T=%lld", v[i].t);
	is_int(totp_step(59), 1, "step of 59 is 1");
	is_int(totp_step(60), 2, "step of 60 is 2");
}

static void
code_at(uint64_t step, char *buf, size_t sz)
{
	(void)snprintf(buf, sz, "%06u",
	    (unsigned)totp_hotp(key, KEYLEN, step, 6));
}

static void
test_verify(void)
{
	char		 code[16];
	uint64_t	 step = 0, now_step;
	time_t		 now = 1111111111;

	now_step = totp_step(now);
	code_at(now_step, code, sizeof(code));
	ok(totp_verify(key, KEYLEN, code, now, 0, &step) == 0 &&
	    step == now_step, "the current code is accepted");
	ok(totp_verify(key, KEYLEN, code, now, now_step, &step) == -1,
	    "the same code again (its step used) is refused");
	code_at(now_step - 1, code, sizeof(code));
	ok(totp_verify(key, KEYLEN, code, now, 0, &step) == 0 &&
	    step == now_step - 1, "the previous step's code is accepted");
	ok(totp_verify(key, KEYLEN, code, now, now_step, &step) == -1,
	    "an older code after a newer one was used is refused");
	code_at(now_step + 1, code, sizeof(code));
	ok(totp_verify(key, KEYLEN, code, now, now_step, &step) == 0 &&
	    step == now_step + 1, "the next step's code is accepted");
	code_at(now_step + 2, code, sizeof(code));
	ok(totp_verify(key, KEYLEN, code, now, 0, &step) == -1,
	    "two steps ahead is refused");
	code_at(now_step - 2, code, sizeof(code));
	ok(totp_verify(key, KEYLEN, code, now, 0, &step) == -1,
	    "two steps behind is refused");
	ok(totp_verify(key, KEYLEN, "12345", now, 0, &step) == -1,
	    "five digits refused");
	ok(totp_verify(key, KEYLEN, "1234567", now, 0, &step) == -1,
	    "seven digits refused");
	ok(totp_verify(key, KEYLEN, "12a456", now, 0, &step) == -1,
	    "a letter refused");
	ok(totp_verify(key, KEYLEN, "", now, 0, &step) == -1,
	    "empty refused");
}

static void
test_base32(void)
{
	static const char *const	 in[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const	 out[] = { "", "MY", "MZXQ", "MZXW6",
	    "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI" };
	unsigned char			 back[32], raw[20];
	char				 buf[64];
	size_t				 i;
	int				 n;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ok(totp_base32((const unsigned char *)in[i], strlen(in[i]),
		    buf, sizeof(buf)) == 0, "base32 \"%s\"", in[i]);
		is_str(buf, out[i], "RFC 4648 base32 of \"%s\" (unpadded)",
		    in[i]);
		n = totp_base32_decode(out[i], back, sizeof(back));
		ok(n == (int)strlen(in[i]) && memcmp(back, in[i], n) == 0,
		    "decodes back to \"%s\"", in[i]);
	}
	n = totp_base32_decode("mzxw6ytboi", back, sizeof(back));
	ok(n == 6 && memcmp(back, "foobar", 6) == 0, "lower case decodes");
	ok(totp_base32_decode("MZXW6===", back, sizeof(back)) == -1,
	    "padding refused");
	ok(totp_base32_decode("MZ1W", back, sizeof(back)) == -1,
	    "a 1 refused");
	ok(totp_base32_decode("MZXW6YTBOI", back, 3) == -1,
	    "output too small refused");
	ok(totp_base32((const unsigned char *)"foobar", 6, buf, 10) == -1,
	    "base32 output too small refused");
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	ok(totp_base32(raw, sizeof(raw), buf, sizeof(buf)) == 0 &&
	    strlen(buf) == 32, "160 bits are 32 letters");
	ok(totp_base32_decode(buf, back, sizeof(back)) == 20 &&
	    memcmp(back, raw, 20) == 0, "and decode back");
}

int
main(void)
{
	test_hotp();
	test_rfc6238();
	test_verify();
	test_base32();
	return done_testing();
}
