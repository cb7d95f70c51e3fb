/* placeholder */
#include "guest/lib/kit.h"
void guest_main(void)
{
}
