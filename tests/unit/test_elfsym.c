/* test_elfsym.c - symbol lookup in an ELF image in guest memory, through
 * DT_GNU_HASH and through the linear search, and hostile hash tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>

#include "arch/arch.h"
#include "linux/elfsym.h"
#include "testimg.h"

#define BASE 0x400000ULL	/* where the image is mapped */
#define SIZE 0x10000u
#define DYN 0x1000
#define SYMTAB 0x2000
#define STRTAB 0x3000
#define GNUHASH 0x4000
#define SYSVHASH 0x5000
#define NBUCKETS 4u
#define SYMOFF 1u

static const char *const names[] = {
	"history_length", "history_list", "remember_on_history", "enable_history_list",
	"shell_variables", "main", "a", "the_history_list_is_long",
};
#define NSYMS (sizeof(names) / sizeof(names[0]))

static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* An ET_DYN image whose symbol i (1..NSYMS) is named order[i-1] and has
 * the value 0x6000 + 8 * its index in names[]; symbols sorted by GNU hash
 * bucket as the linker sorts them. */
static void build(struct testimg *t, int with_gnu)
{
	unsigned char *m = t->mem;
	const char *order[NSYMS];
	size_t n = 0;

	for (uint32_t b = 0; b < NBUCKETS; b++)
		for (size_t i = 0; i < NSYMS; i++)
			if (gnu_hash(names[i]) % NBUCKETS == b)
				order[n++] = names[i];
	Elf64_Ehdr *eh = (Elf64_Ehdr *)m;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 1;
	Elf64_Phdr *ph = (Elf64_Phdr *)(m + sizeof(*eh));
	ph->p_type = PT_DYNAMIC;
	ph->p_vaddr = DYN;

	size_t str = 1;
	Elf64_Sym *sym = (Elf64_Sym *)(m + SYMTAB);
	for (size_t i = 0; i < NSYMS; i++) {
		size_t idx = 0;
		while (strcmp(names[idx], order[i]))
			idx++;
		sym[i + 1].st_name = (uint32_t)str;
		sym[i + 1].st_shndx = 1;
		sym[i + 1].st_value = 0x6000 + 8 * idx;
		strcpy((char *)m + STRTAB + str, order[i]);
		str += strlen(order[i]) + 1;
	}
	/* GNU hash: header, one bloom word (all set), buckets, chains */
	uint32_t *gh = (uint32_t *)(m + GNUHASH);
	gh[0] = NBUCKETS;
	gh[1] = SYMOFF;
	gh[2] = 1;
	gh[3] = 0;
	memset(m + GNUHASH + 16, 0xff, 8);
	uint32_t *buckets = (uint32_t *)(m + GNUHASH + 24), *chains = buckets + NBUCKETS;
	for (size_t i = 0; i < NSYMS; i++) {
		uint32_t h = gnu_hash(order[i]), b = h % NBUCKETS;
		if (!buckets[b])
			buckets[b] = (uint32_t)(i + SYMOFF);
		int last = i + 1 == NSYMS || gnu_hash(order[i + 1]) % NBUCKETS != b;
		chains[i] = (h & ~1u) | (uint32_t)last;
	}
	/* SysV hash header: only its chain count (the number of symbols) is used */
	uint32_t *sh = (uint32_t *)(m + SYSVHASH);
	sh[0] = 1;
	sh[1] = NSYMS + 1;

	Elf64_Dyn *d = (Elf64_Dyn *)(m + DYN);
	d[0] = (Elf64_Dyn){ DT_SYMTAB, { SYMTAB } };
	d[1] = (Elf64_Dyn){ DT_STRTAB, { STRTAB } };
	d[2] = (Elf64_Dyn){ DT_STRSZ, { str } };
	d[3] = (Elf64_Dyn){ with_gnu ? DT_GNU_HASH : DT_HASH, { with_gnu ? GNUHASH : SYSVHASH } };
	d[4] = (Elf64_Dyn){ DT_NULL, { 0 } };
}

struct fix {
	struct testimg img;
	struct memsrc *m;
	struct vas as;
	struct elfsym_image e;
};

static void open_image(struct fix *f, int with_gnu, void (*spoil)(struct testimg *))
{
	testimg_init(&f->img, SIZE);
	build(&f->img, with_gnu);
	if (spoil)
		spoil(&f->img);
	assert_int_equal(testimg_open(&f->img, &f->m), 0);
	vas_init(&f->as, f->m, &arch_x86_64, 0, 4);
	assert_int_equal(vas_add_linear(&f->as, BASE, SIZE, 0), 0);
	assert_int_equal(elfsym_open(&f->e, &f->as, BASE), 0);
}

static void close_image(struct fix *f)
{
	memsrc_close(f->m);
	testimg_free(&f->img);
}

static void check_all(struct fix *f)
{
	uint64_t a;

	for (size_t i = 0; i < NSYMS; i++) {
		a = 0;
		assert_int_equal(elfsym_lookup(&f->e, names[i], &a), 0);
		assert_int_equal(a, BASE + 0x6000 + 8 * i);
	}
	assert_int_equal(elfsym_lookup(&f->e, "not_there", &a), -ENOENT);
	assert_int_equal(elfsym_lookup(&f->e, "history", &a), -ENOENT);
	assert_int_equal(elfsym_lookup(&f->e, "history_lengthx", &a), -ENOENT);
}

static void test_gnu_hash(void **state)
{
	struct fix f;

	(void)state;
	open_image(&f, 1, NULL);
	assert_int_equal(f.e.gh_nbuckets, NBUCKETS);
	check_all(&f);
	close_image(&f);
}

static void test_sysv_hash_linear(void **state)
{
	struct fix f;

	(void)state;
	open_image(&f, 0, NULL);
	assert_int_equal(f.e.gh_nbuckets, 0);
	assert_int_equal(f.e.nsyms, NSYMS + 1);
	check_all(&f);
	close_image(&f);
}

/* chains that never end: each lookup stops at the end of readable memory */
static void endless_chains(struct testimg *t)
{
	uint32_t *chains = (uint32_t *)(t->mem + GNUHASH + 24) + NBUCKETS;
	for (uint32_t i = 0; i < (SIZE - GNUHASH - 24) / 4 - NBUCKETS; i++)
		chains[i] = 0x2468ace0u;	/* matches no name, bit 0 clear */
}

/* every bucket points below symoffset, or at a wild index */
static void wild_buckets(struct testimg *t)
{
	uint32_t *gh = (uint32_t *)(t->mem + GNUHASH), *buckets = gh + 6;
	gh[1] = 5;	/* symoffset */
	buckets[0] = 1;
	buckets[1] = 2;
	buckets[2] = 0xfffffff0u;
	buckets[3] = 0x7fffffffu;
}

static void test_hostile_tables(void **state)
{
	struct fix f;
	uint64_t a;

	(void)state;
	open_image(&f, 1, endless_chains);
	for (size_t i = 0; i < NSYMS; i++)
		assert_int_not_equal(elfsym_lookup(&f.e, names[i], &a), 0);
	close_image(&f);

	open_image(&f, 1, wild_buckets);
	for (size_t i = 0; i < NSYMS; i++)
		assert_int_not_equal(elfsym_lookup(&f.e, names[i], &a), 0);
	close_image(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gnu_hash),
		cmocka_unit_test(test_sysv_hash_linear),
		cmocka_unit_test(test_hostile_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
