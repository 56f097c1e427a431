/* threads N SECONDS: start N threads that live SECONDS, then exit. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	sleep((unsigned)(long)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	long secs = argc > 2 ? atol(argv[2]) : 5;
	pthread_t t[64];

	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, sleeper, (void *)secs);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	sleep((unsigned)secs);	/* live on without the threads */
	return 0;
}
