import Link from "next/link";
import { redirect } from "next/navigation";
import { currentSession } from "@/lib/session";

// The front door. A signed-in visitor goes straight to the tasks; anyone else gets a page
// (never a bare redirect) that says what this is and links to sign-in and sign-up, so that
// `curl http://todo.local` answers HTML as the deployment guide promises.
export default async function Home() {
  if (await currentSession()) redirect("/tasks");
  return (
    <main id="main">
      <section className="card auth-card" aria-labelledby="home-heading">
        <h1 id="home-heading">Todo Chatbot</h1>
        <p>Keep your tasks in a list, or just tell the chat what needs doing.</p>
        <p className="row">
          <Link className="button" href="/sign-in">
            Sign in
          </Link>
          <Link href="/sign-up">Create an account</Link>
        </p>
      </section>
    </main>
  );
}
