// SPDX-License-Identifier: GPL-2.0
/* KUnit: the target command grammar of the sysfs "targets" file. */
#include <kunit/test.h>
#include <linux/string.h>

#include <linux/tlstap.h>

#include "../target_parse.h"

static int parse(const char *s, struct tlstap_target_cmd *cmd)
{
	return tlstap_parse_target_cmd(s, strlen(s), cmd);
}

static void target_valid(struct kunit *test)
{
	static const u8 v4[4] = { 10, 0, 0, 2 };
	static const u8 v6[16] = { 0xfd, 0, [15] = 2 };
	struct tlstap_target_cmd cmd;

	KUNIT_ASSERT_EQ(test, parse("add 10.0.0.2:7419\n", &cmd), 0);
	KUNIT_EXPECT_EQ(test, cmd.op, TLSTAP_TARGET_ADD);
	KUNIT_EXPECT_EQ(test, cmd.ep.family, TLSTAP_FAMILY_IPV4);
	KUNIT_EXPECT_EQ(test, memcmp(cmd.ep.addr, v4, 4), 0);
	KUNIT_EXPECT_FALSE(test, memchr_inv(cmd.ep.addr + 4, 0, 12));
	KUNIT_EXPECT_EQ(test, be16_to_cpu(cmd.ep.port), 7419);
	KUNIT_EXPECT_EQ(test, cmd.weight, 1U);

	KUNIT_ASSERT_EQ(test, parse("add [fd00::2]:1 weight 255", &cmd), 0);
	KUNIT_EXPECT_EQ(test, cmd.ep.family, TLSTAP_FAMILY_IPV6);
	KUNIT_EXPECT_EQ(test, memcmp(cmd.ep.addr, v6, 16), 0);
	KUNIT_EXPECT_EQ(test, be16_to_cpu(cmd.ep.port), 1);
	KUNIT_EXPECT_EQ(test, cmd.weight, 255U);

	KUNIT_ASSERT_EQ(test, parse("del 10.0.0.2:65535", &cmd), 0);
	KUNIT_EXPECT_EQ(test, cmd.op, TLSTAP_TARGET_DEL);
	KUNIT_EXPECT_EQ(test, be16_to_cpu(cmd.ep.port), 65535);

	KUNIT_ASSERT_EQ(test, parse("flush\n", &cmd), 0);
	KUNIT_EXPECT_EQ(test, cmd.op, TLSTAP_TARGET_FLUSH);
}

static void target_invalid(struct kunit *test)
{
	static const char *const bad[] = {
		"", "\n", "add", "add ", "del", "flush now", "list",
		"ADD 10.0.0.2:7419", "add 10.0.0.2", "add 10.0.0.2:",
		"add :7419", "add 10.0.0.2:0", "add 10.0.0.2:65536",
		"add 10.0.0.2:-1", "add 10.0.0.2:74x", "add 10.0.0.256:1",
		"add 10.0.0:1", "add 0.0.0.0:7419", "add [::]:7419",
		"add fd00::2:7419", "add [fd00::2]7419", "add [fd00::2:7419",
		"add []:7419", "add 10.0.0.2:7419 weight",
		"add 10.0.0.2:7419 weight 0", "add 10.0.0.2:7419 weight 256",
		"add 10.0.0.2:7419 weight -1", "add 10.0.0.2:7419 weight 2 x",
		"add 10.0.0.2:7419 mass 2", "add 10.0.0.2:7419  weight 2",
		"del 10.0.0.2:7419 weight 2", "add  10.0.0.2:7419",
		"add 10.0.0.2:7419 10.0.0.3:7419",
		"add 10.0.0.2:7419 weight 2 weight 3",
		"add 10.0.0.2:7419 weight 22222222222222222222",
	};
	struct tlstap_target_cmd cmd;
	char big[200];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test, parse(bad[i], &cmd), -EINVAL,
				    "accepted \"%s\"", bad[i]);

	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "add 10.0.0.2:7419", 17);
	KUNIT_EXPECT_EQ(test, parse(big, &cmd), -EINVAL);
	/* Bytes after a NUL inside the write are not silently ignored. */
	KUNIT_EXPECT_EQ(test, tlstap_parse_target_cmd("flush\0add", 9, &cmd),
			-EINVAL);
}

static struct kunit_case target_cases[] = {
	KUNIT_CASE(target_valid),
	KUNIT_CASE(target_invalid),
	{}
};

static struct kunit_suite target_suite = {
	.name = "tlstap_target_parse",
	.test_cases = target_cases,
};

kunit_test_suite(target_suite);
