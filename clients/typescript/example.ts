/**
 * The typed client's example: sign in, then list the caller's appointments.
 * Against `deno task start`:
 *   deno run -A clients/typescript/example.ts +5491100000003 consultorio-demo
 */
import { createConsultorioClient, type ProblemDetails } from "./client.ts";

export async function upcomingAppointments(functionsUrl: string, phone: string, password: string) {
  const login = await createConsultorioClient({ functionsUrl })
    .POST("/api/v1/auth/login", { body: { phone, password } });
  if (login.error) throw new Error(describe(login.error));
  const api = createConsultorioClient({ functionsUrl, accessToken: login.data.data.accessToken });

  const page = await api.GET("/api/v1/appointments", {
    params: { query: { limit: 20, from: new Date().toISOString() } },
  });
  if (page.error) throw new Error(describe(page.error));
  return {
    user: login.data.data.user,
    appointments: page.data.data.map((a) => ({
      id: a.id,
      start: a.startAppointment,
      status: a.status,
      doctor: `${a.doctor.name} ${a.doctor.lastName} (${a.doctor.specialty})`,
    })),
    nextCursor: page.data.pageInfo.nextCursor,
  };
}

function describe(problem: ProblemDetails): string {
  return `${problem.status} ${problem.code}: ${problem.detail}`;
}

if (import.meta.main) {
  const [phone = "+5491100000003", password = "consultorio-demo"] = Deno.args;
  const functionsUrl = Deno.env.get("CONSULTORIO_FUNCTIONS_URL") ?? "http://127.0.0.1:54321/functions/v1";
  const { user, appointments } = await upcomingAppointments(functionsUrl, phone, password);
  console.log(`${user.name} ${user.lastName} (${user.role}):`);
  for (const a of appointments) console.log(`  ${a.start}  ${a.status.padEnd(9)}  ${a.doctor}`);
}
