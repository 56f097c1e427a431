/* napper MS [TAG...] - live MS milliseconds, then exit: a short-lived
 * process with a name and arguments of its own (test_shortlived.py). */
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 50;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
	return 0;
}
